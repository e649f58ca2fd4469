/**
 * Loading a config: a `gateway.hcl` file, or a directory of `*.hcl` files
 * (direct children, in name order), into a resolved {@link Config} plus every
 * diagnostic found along the way.
 *
 * The loader reports as much as it can in one run: a broken block is skipped
 * and the rest still decodes, resolves and (in the compiler) type-checks. The
 * one exception is the `schema_version` gate — a config written for a newer
 * grammar gets a single "upgrade clawpatrol" error rather than a wall of
 * confusing decode errors.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { error, warning, type Diagnostic } from "./diagnostics.js";
import { parseHcl } from "./hcl/index.js";
import type { ParsedFile } from "./hcl/ast.js";
import type { DecodeIO } from "./decode/block.js";
import { decodeTopLevel, type Declarations } from "./decode/toplevel.js";
import { resolveDeclarations } from "./resolve.js";
import { MAX_SCHEMA_VERSION } from "./schema/gateway.js";
import { checkSchemaVersion } from "./schema/checks.js";
import type { Config } from "./model.js";


export interface LoadResult {
  /** Present unless the config could not be read at all or failed the version gate. */
  config?: Config;
  diagnostics: Diagnostic[];
}

/** Filesystem access, injectable for tests. */
export interface LoadIO extends DecodeIO {
  /** Lists `*.hcl` direct children of `path` (sorted) when it is a directory; undefined for a file. */
  listConfigDir(path: string): string[] | undefined;
}

export const nodeIO: LoadIO = {
  readFile(p) {
    try {
      return readFileSync(p, "utf8");
    } catch {
      return undefined;
    }
  },
  listConfigDir(p) {
    let st;
    try {
      st = statSync(p);
    } catch {
      return undefined;
    }
    if (!st.isDirectory()) return undefined;
    return readdirSync(p)
      .filter((n) => n.endsWith(".hcl"))
      .filter((n) => {
        try {
          return statSync(join(p, n)).isFile();
        } catch {
          return false;
        }
      })
      .sort()
      .map((n) => join(p, n));
  },
};

/** Reads and parses the files behind `path`. */
function readSources(path: string, io: LoadIO, diags: Diagnostic[]): ParsedFile[] {
  const listed = io.listConfigDir(path);
  const files = listed ?? [path];
  if (listed && listed.length === 0) {
    diags.push(error("No config files", `The directory ${path} contains no *.hcl files.`));
  }
  const parsed: ParsedFile[] = [];
  for (const file of files) {
    const source = io.readFile(file);
    if (source === undefined) {
      diags.push(error("Cannot read config file", `${file} does not exist or is not readable.`));
      continue;
    }
    const r = parseHcl(source, file);
    diags.push(...r.diagnostics);
    parsed.push(r.parsed);
  }
  return parsed;
}

/**
 * The version gate, run before any decoding: a lenient scan for top-level
 * `schema_version`. Returns a fatal diagnostic when the config is too new.
 */
function versionGate(files: ParsedFile[], diags: Diagnostic[]): { fatal?: Diagnostic; version?: number } {
  let version: number | undefined;
  for (const f of files) {
    for (const a of f.body.attributes) {
      if (a.name !== "schema_version") continue;
      const e = a.expr;
      const v = e.kind === "literal" && typeof e.value === "number" ? e.value : e.kind === "template" ? Number(e.value) : NaN;
      if (!Number.isInteger(v) || v < 1) {
        diags.push(error("Invalid schema_version", `schema_version must be a positive whole number; this clawpatrol understands up to ${MAX_SCHEMA_VERSION}.`, e.range));
        continue;
      }
      // Too new: reported without a position, as the reference does — it is
      // about the whole config, and the value is in the message.
      const tooNew = checkSchemaVersion(v)[0];
      if (tooNew) return { fatal: tooNew };
      if (version !== undefined && version !== v) {
        diags.push(error("Conflicting schema_version", `Files of one config must agree on schema_version (found ${version} and ${v}).`, e.range));
      }
      version = v;
    }
  }
  return version === undefined ? {} : { version };
}

/** Loads, decodes and resolves a config file or directory. */
export function loadConfig(path: string, io: LoadIO = nodeIO): LoadResult {
  const diagnostics: Diagnostic[] = [];
  const files = readSources(path, io, diagnostics);
  if (files.length === 0) return { diagnostics };

  const gate = versionGate(files, diagnostics);
  if (gate.fatal) return { diagnostics: [gate.fatal] };
  if (gate.version === undefined) {
    diagnostics.push(
      warning(
        "Config schema_version not set",
        `Loading as schema_version ${MAX_SCHEMA_VERSION}. Add \`schema_version = ${MAX_SCHEMA_VERSION}\` at the top of the config so a future grammar change is caught instead of misread.`,
      ),
    );
  }

  const decls: Declarations = decodeTopLevel(files, io, diagnostics);
  const config = resolveDeclarations(decls, diagnostics);
  config.files = files.map((f) => f.file);
  if (gate.version !== undefined) config.schemaVersion = gate.version;
  return { config, diagnostics };
}
