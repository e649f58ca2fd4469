/**
 * The config as the API shows it: one file's text, or — for a config
 * directory — a read-only concatenation of its `*.hcl` files, each under a
 * `# file: <path>` header. The revision is the SHA-256 (hex) of that text,
 * which `PUT /api/config` compares with the client's base revision.
 */
import { readFileSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { nodeIO, type LoadIO } from "../config/load.js";
import { resolve } from "node:path";

export const FILE_HEADER = "# file: ";

export interface ConfigText {
  text: string;
  revision: string;
  /** A directory config (never writable from the API). */
  directory: boolean;
  files: string[];
}

export const revisionOf = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

export function readConfigText(configPath: string): ConfigText {
  let directory = false;
  try {
    directory = statSync(configPath).isDirectory();
  } catch {
    // missing: reported as empty text below
  }
  if (!directory) {
    let text = "";
    try {
      text = readFileSync(configPath, "utf8");
    } catch {
      // a config deleted under a running gateway: show it empty
    }
    return { text, revision: revisionOf(text), directory, files: [configPath] };
  }
  const files = nodeIO.listConfigDir(configPath) ?? [];
  const text = files.map((f) => `${FILE_HEADER}${f}\n${nodeIO.readFile(f) ?? ""}`).join("\n");
  return { text, revision: revisionOf(text), directory, files };
}

/**
 * A loader IO that sees `text` in place of the config on disk: the file
 * itself, or — for a directory — the files named by the `# file:` headers
 * (other files of the directory read as absent).
 */
export function overlayIO(configPath: string, text: string, directory: boolean): LoadIO {
  const overlay = new Map<string, string>();
  if (!directory) overlay.set(resolve(configPath), text);
  else {
    let current: string | undefined;
    let buf: string[] = [];
    const flush = () => {
      if (current !== undefined) overlay.set(resolve(current), buf.join("\n"));
    };
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.startsWith(FILE_HEADER)) {
        flush();
        current = line.slice(FILE_HEADER.length).trim();
        buf = [];
        continue;
      }
      buf.push(line);
    }
    flush();
  }
  return {
    readFile: (p) => (overlay.has(resolve(p)) ? overlay.get(resolve(p)) : nodeIO.readFile(p)),
    listConfigDir: (p) =>
      resolve(p) === resolve(configPath) && directory ? [...overlay.keys()].filter((f) => f.endsWith(".hcl")).sort() : nodeIO.listConfigDir(p),
  };
}
