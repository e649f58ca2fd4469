import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { isRawTerminal, readHiddenLines, type RawTerminal } from "./hidden-line.js";

/** A stand-in terminal: records raw-mode switches; what the test writes is what the user typed. */
function fakeTty(startRaw = false): RawTerminal & PassThrough & { modes: boolean[] } {
  const t = new PassThrough() as unknown as RawTerminal & PassThrough & { modes: boolean[] };
  t.isTTY = true;
  t.isRaw = startRaw;
  t.modes = [];
  t.setRawMode = (raw: boolean) => {
    t.modes.push(raw);
    t.isRaw = raw;
    return t;
  };
  return t;
}

async function typed(keys: (string | Buffer)[], startRaw = false): Promise<{ line: string | undefined; shown: string; modes: boolean[] }> {
  const tty = fakeTty(startRaw);
  let shown = "";
  const p = readHiddenLines(tty, (t) => void (shown += t), ["Password: "]);
  for (const k of keys) tty.write(k);
  const lines = await p;
  return { line: lines?.[0], shown, modes: tty.modes };
}

describe("readHiddenLines", () => {
  it("reads a line in raw mode, shows only the prompt, and restores the mode", async () => {
    const r = await typed(["correct horse ", "battery staple\r"]);
    assert.equal(r.line, "correct horse battery staple");
    assert.equal(r.shown, "Password: \n", "nothing typed is written back");
    assert.deepEqual(r.modes, [true, false]);
  });

  it("leaves a terminal that was already raw in raw mode", async () => {
    const r = await typed(["x\n"], true);
    assert.deepEqual(r.modes, [true, true]);
  });

  it("edits like a terminal: backspace removes a character (not a UTF-16 half), Ctrl-U clears", async () => {
    assert.equal((await typed(["abcd\x7f\x7fX\r"])).line, "abX");
    assert.equal((await typed(["ab\x08c\r"])).line, "ac");
    assert.equal((await typed(["pä🔑\x7f\r"])).line, "pä");
    assert.equal((await typed(["wrong\x15right\r"])).line, "right");
  });

  it("skips escape sequences (arrow keys) and other control characters", async () => {
    assert.equal((await typed(["pa\x1b[Dss\x1bOA\x01\x02word\r"])).line, "password");
  });

  it("decodes UTF-8 split across reads", async () => {
    const bytes = Buffer.from("pässwörd\r");
    assert.equal((await typed([bytes.subarray(0, 2), bytes.subarray(2, 8), bytes.subarray(8)])).line, "pässwörd");
  });

  it("Ctrl-C cancels (and still restores the mode); Ctrl-D cancels only on an empty line", async () => {
    const c = await typed(["half a pass\x03more\r"]);
    assert.equal(c.line, undefined);
    assert.deepEqual(c.modes, [true, false]);
    assert.equal((await typed(["\x04"])).line, undefined);
    assert.equal((await typed(["ab\x04c\r"])).line, "abc");
  });

  it("ends at end of input with what was typed", async () => {
    const tty = fakeTty();
    const p = readHiddenLines(tty, () => {}, [""]);
    tty.end("no newline");
    assert.deepEqual(await p, ["no newline"]);
  });

  it("asks each prompt in turn in one raw-mode stretch, so typing ahead is never echoed", async () => {
    const tty = fakeTty();
    let shown = "";
    const modeWhenPrompted: boolean[] = [];
    const p = readHiddenLines(tty, (t) => {
      if (t.endsWith(": ")) modeWhenPrompted.push(tty.isRaw === true);
      shown += t;
    }, ["First: ", "Again: "]);
    tty.write("one\rtwo\r"); // both lines in one read: typed ahead of the second prompt
    assert.deepEqual(await p, ["one", "two"]);
    assert.equal(shown, "First: \nAgain: \n");
    assert.deepEqual(modeWhenPrompted, [true, true], "raw before each prompt is shown");
    assert.deepEqual(tty.modes, [true, false], "raw mode switched once for the whole dialogue");
  });

  it("end of input before the last prompt is answered cancels", async () => {
    const tty = fakeTty();
    const p = readHiddenLines(tty, () => {}, ["First: ", "Again: "]);
    tty.end("one\r");
    assert.equal(await p, undefined);
  });

  it("knows a terminal from a pipe", () => {
    assert.equal(isRawTerminal(fakeTty()), true);
    assert.equal(isRawTerminal(new PassThrough()), false);
  });
});
