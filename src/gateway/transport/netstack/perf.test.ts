/**
 * Figures (printed, with loose bounds so a regression fails): in-process
 * throughput through two stacks on a perfect wire, and memory per idle
 * accepted connection.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ACK } from "./tcp-segment.js";
import { clientPort, makePair, RawPeer, rawTcp } from "./test-helpers.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

async function settle(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

test("throughput: 200 MB through two stacks on a perfect wire (gateway → agent)", async () => {
  const p = makePair();
  try {
    const acc = p.nextAccept();
    const c = p.client.connect({ address: "10.0.0.2", port: clientPort() }, { address: "93.184.216.34", port: 443 });
    const s = await acc;
    const N = 200 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x5a);
    let got = 0;
    c.on("data", (d: Buffer) => (got += d.length));
    const done = once(c, "end");
    const t0 = performance.now();
    for (let o = 0; o < N; o += chunk.length) if (!s.write(chunk)) await once(s, "drain");
    s.end();
    await done;
    const secs = (performance.now() - t0) / 1000;
    assert.equal(got, N);
    const mbs = N / 1024 / 1024 / secs;
    console.log(`# throughput: ${mbs.toFixed(0)} MB/s (${((N * 8) / 1e6 / secs).toFixed(0)} Mbit/s) in-process, one flow, both stacks in one thread`);
  } finally {
    p.close();
  }
});

test("memory per idle accepted connection (1,000 connections)", async () => {
  const r = new RawPeer();
  const N = 1000;
  const before = await settle();
  for (let i = 0; i < N; i++) {
    r.handshake({ srcPort: 10000 + i, dstPort: 443, seq: 1000 + i, wscale: 7 });
    r.take();
  }
  // Consumers attached as a dispatcher would (a paused stream with listeners).
  for (const c of r.accepted) c.on("error", () => {});
  await new Promise((res) => setImmediate(res));
  r.take();
  const after = await settle();
  assert.equal(r.stack.connections, N);
  const per = (after - before) / N;
  console.log(`# memory: ${(per / 1024).toFixed(2)} KiB per idle connection (heap + array buffers, ${N} connections)`);
  assert.ok(per < 20 * 1024, `${per} bytes per connection`);
  // And they all go away.
  for (const c of r.accepted) c.destroy();
  assert.equal(r.stack.connections, 0);
  r.stack.input(rawTcp({ srcPort: 10000, flags: ACK, seq: 1, ack: 1 })); // unknown now: answered with RST
  assert.equal(r.takeTcp()[0]?.flags, 0x04);
  r.stack.close();
});
