/**
 * Reading a secret from a terminal without showing it.
 *
 * A password typed at a prompt must not appear on the screen (shoulder
 * surfing, screen sharing, terminal scrollback and session recordings). The
 * terminal echoes what is typed while it is in its normal (cooked) mode, so
 * the prompt switches it to raw mode for the one line, does the little line
 * editing raw mode leaves to the program (backspace, Ctrl-U), and restores
 * the previous mode however the read ends.
 *
 * @example
 * const got = await readHiddenLines(process.stdin as RawTerminal, (t) => process.stderr.write(t), ["Password: ", "Again: "]);
 * if (got === undefined) process.exit(130); // Ctrl-C
 */
import { StringDecoder } from "node:string_decoder";

/** A terminal input that can be switched to raw mode (what `process.stdin` is on a TTY). */
export interface RawTerminal extends NodeJS.ReadableStream {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode(raw: boolean): unknown;
}

/** True when `input` is a terminal whose echo can be switched off. */
export function isRawTerminal(input: NodeJS.ReadableStream): input is RawTerminal {
  const t = input as Partial<RawTerminal>;
  return t.isTTY === true && typeof t.setRawMode === "function";
}

const CTRL_C = "\x03";
const CTRL_D = "\x04";
const CTRL_U = "\x15";
const BACKSPACE = "\x7f";
const CTRL_H = "\x08";
const ESC = "\x1b";

/**
 * Prompts on `write` and reads one line per prompt from `tty` without
 * echoing any of them. Raw mode is switched on before the first prompt is
 * shown and kept until the last line is read, so nothing typed ahead is
 * ever echoed by the terminal. Resolves the lines, or `undefined` when the
 * user pressed Ctrl-C (or Ctrl-D on an empty line). Nothing of the typed
 * text is ever written.
 */
export function readHiddenLines(tty: RawTerminal, write: (text: string) => void, prompts: readonly string[]): Promise<string[] | undefined> {
  return new Promise((resolve, reject) => {
    const wasRaw = tty.isRaw === true;
    const decoder = new StringDecoder("utf8");
    const lines: string[] = [];
    let line = "";
    /** Inside an escape sequence (arrow keys and the like), which is skipped whole. */
    let escape: "none" | "start" | "csi" = "none";
    let ended = false;
    const end = (result: string[] | undefined, err?: Error) => {
      ended = true;
      tty.off("data", onData);
      tty.off("end", onEnd);
      tty.off("error", onError);
      try {
        tty.setRawMode(wasRaw);
      } finally {
        (tty as { pause?: () => void }).pause?.();
        if (err) reject(err);
        else resolve(result);
      }
    };
    /** A line is complete: keep it, then prompt for the next or finish. */
    const enter = () => {
      lines.push(line);
      line = "";
      write("\n");
      if (lines.length === prompts.length) end(lines);
      else write(prompts[lines.length]!);
    };
    const onData = (chunk: Buffer | string) => {
      const text = typeof chunk === "string" ? chunk : decoder.write(chunk);
      for (const ch of text) {
        if (ended) return;
        if (escape === "start") {
          escape = ch === "[" || ch === "O" ? "csi" : "none";
          continue;
        }
        if (escape === "csi") {
          if (ch >= "@" && ch <= "~") escape = "none";
          continue;
        }
        if (ch === "\r" || ch === "\n") {
          enter();
        } else if (ch === CTRL_C) {
          write("\n");
          end(undefined);
        } else if (ch === CTRL_D) {
          if (line === "") {
            write("\n");
            end(undefined);
          }
        } else if (ch === BACKSPACE || ch === CTRL_H) {
          line = Array.from(line).slice(0, -1).join("");
        } else if (ch === CTRL_U) {
          line = "";
        } else if (ch === ESC) {
          escape = "start";
        } else if (ch >= " ") {
          line += ch; // other control characters are not part of a password
        }
      }
    };
    const onEnd = () => {
      if (line !== "") enter();
      if (!ended) {
        write("\n");
        end(undefined);
      }
    };
    const onError = (e: Error) => end(undefined, e);
    tty.setRawMode(true);
    write(prompts[0] ?? "");
    tty.on("data", onData);
    tty.once("end", onEnd);
    tty.once("error", onError);
    (tty as { resume?: () => void }).resume?.();
  });
}
