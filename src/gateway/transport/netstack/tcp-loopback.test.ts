/**
 * Two stacks talking TCP through an in-memory wire: handshake, data both
 * ways, half-close, resets, bulk transfer over a lossy/reordering/duplicating
 * wire, backpressure, churn and leak checks.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import type { Duplex } from "node:stream";
import { prng } from "../../../testing/prng.js";
import { activeTimers, clientPort, makePair, until, type Pair } from "./test-helpers.js";
import type { TcpConn } from "./tcp-conn.js";

const SERVER = { address: "93.184.216.34", port: 443 };

/** Resolves on 'close' (or at once if already closed). */
function closed(s: Duplex): Promise<void> {
  return s.closed ? Promise.resolve() : new Promise((res) => s.once("close", () => res()));
}

function dial(p: Pair, dst = SERVER, src = "10.0.0.2"): TcpConn {
  return p.client.connect({ address: src, port: clientPort() }, dst);
}

function readAll(s: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on("data", (d: Buffer) => parts.push(d));
    s.once("end", () => resolve(Buffer.concat(parts)));
    s.once("error", reject);
  });
}

function hashAll(s: Duplex): Promise<{ sha: string; n: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    let n = 0;
    s.on("data", (d: Buffer) => {
      h.update(d);
      n += d.length;
    });
    s.once("end", () => resolve({ sha: h.digest("hex"), n }));
    s.once("error", reject);
  });
}

/** Deterministic pseudo-random bytes. */
function bytes(n: number, seed: number): Buffer {
  const r = prng(seed);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i += 4) {
    const v = (r() * 0x100000000) >>> 0;
    for (let k = 0; k < 4 && i + k < n; k++) b[i + k] = (v >>> (8 * k)) & 0xff;
  }
  return b;
}

/** Writes `data` in chunks honouring backpressure, then ends. */
async function writeAll(s: Duplex, data: Buffer, chunk = 64 * 1024): Promise<void> {
  for (let o = 0; o < data.length; o += chunk) {
    if (!s.write(data.subarray(o, o + chunk))) await once(s, "drain");
  }
  s.end();
}

test("handshake: the server sees the original 4-tuple; data flows both ways; half-close both directions", async () => {
  const p = makePair();
  try {
    const acc = p.nextAccept();
    const c = dial(p, { address: "203.0.113.9", port: 5432 });
    await once(c, "connect");
    const s = await acc;
    assert.deepEqual(s.localEndpoint, { address: "203.0.113.9", port: 5432 });
    assert.equal(s.remoteEndpoint.address, "10.0.0.2");
    assert.equal(s.remoteEndpoint.port, c.localEndpoint.port);
    assert.equal(p.server.connections, 1);

    // client → server, then client half-closes: server sees 'end' but can still write.
    const serverGot = readAll(s);
    c.write("hello ");
    c.end("world");
    assert.equal((await serverGot).toString(), "hello world");
    const clientGot = readAll(c);
    s.write("reply after the peer's FIN");
    s.end();
    assert.equal((await clientGot).toString(), "reply after the peer's FIN");
    await Promise.all([closed(s), closed(c)]);
    await until(() => p.server.connections === 0 && p.client.connections === 0, 3000, "connections to drain");
  } finally {
    p.close();
  }
});

test("server closes first: FIN from the gateway side, client reads EOF, both close", async () => {
  const p = makePair({}, { timeWait: 50 });
  try {
    const acc = p.nextAccept();
    const c = dial(p);
    const s = await acc;
    const got = readAll(c);
    s.resume(); // 'end' (and so 'close') needs a consumer, as with net.Socket
    s.end("bye");
    assert.equal((await got).toString(), "bye");
    c.end();
    await Promise.all([closed(s), closed(c)]);
    // The server did the active close: TIME-WAIT, then gone.
    await until(() => p.server.connections === 0 && p.client.connections === 0, 3000, "TIME-WAIT to end");
  } finally {
    p.close();
  }
});

test("destroy() sends RST: the peer gets ECONNRESET and both tables empty", async () => {
  const p = makePair();
  try {
    const acc = p.nextAccept();
    const c = dial(p);
    const s = await acc;
    const err = new Promise<Error>((res) => s.once("error", res));
    c.destroy();
    const e = (await err) as Error & { code?: string };
    assert.equal(e.code, "ECONNRESET");
    await until(() => p.server.connections === 0 && p.client.connections === 0, 2000, "tables to empty");
    assert.equal(s.destroyed, true);
  } finally {
    p.close();
  }
});

test("server-side destroy() resets the client; writes after that fail", async () => {
  const p = makePair();
  try {
    const acc = p.nextAccept();
    const c = dial(p);
    const s = await acc;
    const err = new Promise<Error>((res) => c.once("error", res));
    s.destroy();
    assert.equal(((await err) as Error & { code?: string }).code, "ECONNRESET");
    await until(() => p.server.connections === 0 && p.client.connections === 0, 2000, "tables to empty");
  } finally {
    p.close();
  }
});

test("bulk: 20 MB each way through a lossy (3%), reordering, duplicating wire arrives intact without stalls", async () => {
  const p = makePair({ seed: 42, loss: 0.03, reorder: 0.05, dup: 0.01, jitterMs: 3 });
  try {
    const N = 20 * 1024 * 1024;
    const up = bytes(N, 1);
    const down = bytes(N, 2);
    const t0 = Date.now();
    const acc = p.nextAccept();
    const c = dial(p);
    const s = await acc;
    const atServer = hashAll(s);
    const atClient = hashAll(c);
    await Promise.all([writeAll(c, up), writeAll(s, down)]);
    const [gotUp, gotDown] = await Promise.all([atServer, atClient]);
    assert.equal(gotUp.n, N);
    assert.equal(gotUp.sha, createHash("sha256").update(up).digest("hex"));
    assert.equal(gotDown.n, N);
    assert.equal(gotDown.sha, createHash("sha256").update(down).digest("hex"));
    await Promise.all([closed(s), closed(c)]);
    const secs = (Date.now() - t0) / 1000;
    console.log(`# lossy bulk: 2×20 MB in ${secs.toFixed(1)} s (wire dropped ${p.ab.dropped + p.ba.dropped} of ${p.ab.packets + p.ba.packets} packets)`);
    assert.ok(secs < 90, `took ${secs}s`);
    await until(() => p.server.connections === 0 && p.client.connections === 0, 5000, "tables to empty");
  } finally {
    p.close();
  }
});

test("backpressure: a consumer that never reads bounds both stacks' buffering (window 0, persist probes); reading resumes", async () => {
  const rcvBuf = 128 * 1024;
  const sndBuf = 128 * 1024;
  const p = makePair({}, { rcvBuf }, { sndBuf });
  try {
    const N = 8 * 1024 * 1024;
    const data = bytes(N, 3);
    const acc = p.nextAccept();
    const c = dial(p);
    const s = (await acc) as TcpConn;
    let writerDone = false;
    const w = writeAll(c, data, 64 * 1024).then(() => (writerDone = true));
    await until(() => c.peerWindow === 0, 5000, "the receiver's window to close");
    await new Promise((res) => setTimeout(res, 700)); // > RTO: persist probes go out
    assert.equal(writerDone, false, "the writer is backpressured");
    assert.ok(c.bufferedBytes <= sndBuf + 64 * 1024, `sender holds ${c.bufferedBytes}`);
    assert.ok(c.writableLength <= 64 * 1024 + 16 * 1024, `writable buffer ${c.writableLength}`);
    assert.ok(s.bufferedBytes + s.readableLength <= rcvBuf, `receiver holds ${s.bufferedBytes + s.readableLength}`);
    assert.equal(s.advertisedWindow, 0);
    assert.ok(c.counters.probes >= 1, "zero-window probes");
    assert.equal(p.server.connections, 1);
    const got = await hashAll(s);
    assert.equal(got.n, N);
    assert.equal(got.sha, createHash("sha256").update(data).digest("hex"));
    await w;
  } finally {
    p.close();
  }
});

test("send-side backpressure: the gateway writing to a slow peer is held at the send buffer bound", async () => {
  const sndBuf = 64 * 1024;
  const p = makePair({}, { sndBuf }, { rcvBuf: 64 * 1024 });
  try {
    const acc = p.nextAccept();
    const c = dial(p);
    const s = (await acc) as TcpConn;
    const chunk = Buffer.alloc(16 * 1024, 1);
    let stalled = false;
    for (let i = 0; i < 1000 && !stalled; i++) {
      if (!s.write(chunk)) {
        const drained = once(s, "drain").then(() => true);
        stalled = !(await Promise.race([drained, new Promise<boolean>((res) => setTimeout(() => res(false), 300))]));
      }
    }
    assert.ok(stalled, "the writer stalled: no 'drain' while the peer does not read");
    assert.ok(s.bufferedBytes <= sndBuf + chunk.length, `send buffer ${s.bufferedBytes}`);
    assert.equal(c.peerWindow > 0, true);
    assert.ok(s.peerWindow < 1380, `the client (not reading) closed its window (to less than a segment: ${s.peerWindow})`);
    // The client starts reading: the gateway's writer drains.
    const drain = once(s, "drain");
    c.resume();
    await drain;
  } finally {
    p.close();
  }
});

test("churn: 1,000 short connections (some reset) leave no connections and no timers behind", async () => {
  const p = makePair({}, {
    timeWait: 20,
    onTcp: (conn) => {
      conn.on("data", (d: Buffer) => conn.write(d));
      conn.on("end", () => conn.end());
      conn.on("error", () => {});
    },
  }, { timeWait: 20 });
  const baseline = activeTimers();
  try {
    let n = 0;
    const one = async (i: number) => {
      const c = dial(p, { address: `198.51.100.${1 + (i % 200)}`, port: 80 + (i % 7) });
      c.on("error", () => {});
      if (i % 10 === 9) {
        await once(c, "connect");
        c.destroy();
        n++;
        return;
      }
      const got = readAll(c);
      c.end(`ping ${i}`);
      assert.equal((await got).toString(), `ping ${i}`);
      await closed(c);
      n++;
    };
    for (let b = 0; b < 20; b++) await Promise.all(Array.from({ length: 50 }, (_, k) => one(b * 50 + k)));
    assert.equal(n, 1000);
    await until(() => p.server.connections === 0 && p.client.connections === 0, 5000, "tables to empty");
  } finally {
    p.close();
  }
  await new Promise((res) => setTimeout(res, 5));
  assert.ok(activeTimers() <= baseline, `timers left: ${activeTimers()} > ${baseline} (${process.getActiveResourcesInfo().join(",")})`);
});

test("IPv6 end to end through two stacks", async () => {
  const p = makePair();
  try {
    const acc = p.nextAccept();
    const c = dial(p, { address: "2001:db8::80", port: 8080 }, "fd00::2");
    const s = await acc;
    assert.deepEqual(s.localEndpoint, { address: "2001:db8::80", port: 8080 });
    const got = readAll(s);
    c.end(bytes(100_000, 9));
    assert.ok((await got).equals(bytes(100_000, 9)));
  } finally {
    p.close();
  }
});

test("stack.close() resets every connection and leaves no timers", async () => {
  const baseline = activeTimers();
  const p = makePair();
  const acc = p.nextAccept();
  const c = dial(p);
  c.on("error", () => {});
  const s = await acc;
  s.write(Buffer.alloc(500_000)); // outstanding data: retransmission timer armed
  await new Promise((res) => setTimeout(res, 5));
  p.server.close();
  assert.equal(p.server.connections, 0);
  assert.equal(s.destroyed, true);
  await until(() => p.client.connections === 0, 2000, "client to see the reset");
  assert.equal(c.destroyed, true);
  p.close();
  await new Promise((res) => setTimeout(res, 5));
  assert.ok(activeTimers() <= baseline, process.getActiveResourcesInfo().join(","));
});
