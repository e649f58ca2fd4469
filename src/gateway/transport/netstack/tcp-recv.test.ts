import { test } from "node:test";
import assert from "node:assert/strict";
import { prng } from "../../../testing/prng.js";
import { Reassembly } from "./tcp-recv.js";
import { SendBuffer } from "./tcp-send.js";
import { seqAdd } from "./tcp-segment.js";

test("reassembly: random overlapping, duplicated, reordered pieces come out exactly once, in order (across seq wrap)", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const r = prng(seed);
    const data = Buffer.alloc(5000);
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
    const base = (0xffffffff - 2000 + seed) >>> 0; // wraps inside the stream
    const q = new Reassembly(10_000);
    let rcvNxt = base;
    const out: Buffer[] = [];
    let guard = 0;
    while (seqAdd(base, data.length) !== rcvNxt && guard++ < 100_000) {
      const a = Math.floor(r() * data.length);
      const len = 1 + Math.floor(r() * 300);
      const b = Math.min(data.length, a + len);
      const seq = seqAdd(base, a);
      const delivered = (rcvNxt - base) >>> 0;
      if (a <= delivered && b > delivered) {
        // In order (possibly overlapping what was delivered): deliver the new part, then take.
        out.push(data.subarray(delivered, b));
        rcvNxt = seqAdd(base, b);
        const t = q.take(rcvNxt);
        out.push(...t.chunks);
        rcvNxt = t.rcvNxt;
      } else if (a > delivered) {
        assert.ok(q.insert(rcvNxt, seq, data.subarray(a, b)));
      }
    }
    assert.ok(Buffer.concat(out).equals(data), `seed ${seed}`);
    assert.equal(q.bytes, 0);
    assert.equal(q.size, 0);
  }
});

test("reassembly caps the number of held pieces", () => {
  const q = new Reassembly(4);
  for (let i = 0; i < 4; i++) assert.ok(q.insert(0, 10 + i * 10, Buffer.alloc(1)));
  assert.equal(q.insert(0, 100, Buffer.alloc(1)), false);
  assert.ok(q.insert(0, 10, Buffer.alloc(1)), "a pure duplicate is fine");
  assert.equal(q.size, 4);
});

test("send buffer: copyOut at arbitrary offsets across chunk boundaries, consume from the front", () => {
  const r = prng(5);
  const sb = new SendBuffer();
  const ref: number[] = [];
  let consumed = 0;
  for (let round = 0; round < 300; round++) {
    const n = Math.floor(r() * 3000);
    const c = Buffer.alloc(n);
    for (let i = 0; i < n; i++) c[i] = Math.floor(r() * 256);
    sb.push(c);
    ref.push(...c);
    assert.equal(sb.length, ref.length - consumed);
    for (let k = 0; k < 3 && sb.length > 0; k++) {
      const off = Math.floor(r() * sb.length);
      const len = Math.min(sb.length - off, 1 + Math.floor(r() * 2000));
      const dst = Buffer.alloc(len + 4);
      sb.copyOut(off, len, dst, 4);
      assert.deepEqual([...dst.subarray(4)], ref.slice(consumed + off, consumed + off + len));
      // Sequential read (cursor cache path).
      if (off + len < sb.length) {
        const more = Math.min(sb.length - off - len, 100);
        const d2 = Buffer.alloc(more);
        sb.copyOut(off + len, more, d2, 0);
        assert.deepEqual([...d2], ref.slice(consumed + off + len, consumed + off + len + more));
      }
    }
    const drop = Math.floor(r() * sb.length * 0.6);
    sb.consume(drop);
    consumed += drop;
  }
});
