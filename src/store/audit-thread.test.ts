import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { openStore } from "./db.js";
import { MAX_IN_FLIGHT, ThreadedAuditSink } from "./audit-thread.js";
import { tempDir } from "./test-helpers.js";
import type { NewAction } from "./actions.js";

const row = (i: number): NewAction => ({ time: 1_700_000_000_000 + i, verdict: i % 3 === 0 ? "deny" : "allow", summary: `select ${i}`, facets: { sql: { n: i } } });

describe("ThreadedAuditSink", () => {
  it("commits batches on its own connection; drainSync returns with every row stored and every callback run", async () => {
    const { dir, cleanup } = tempDir();
    const store = openStore(dir);
    const sink = new ThreadedAuditSink(dir, (rows) => store.actions.insertEncoded(rows));
    const got: number[][] = [];
    for (let b = 0; b < 20; b++) sink.submit(Array.from({ length: 50 }, (_, i) => row(b * 50 + i)), (r) => got.push("ids" in r ? r.ids : []));
    sink.drainSync();
    assert.equal(got.length, 20, "every callback ran before drainSync returned");
    const ids = got.flat();
    assert.equal(new Set(ids).size, 1000);
    assert.equal(store.db.prepare("SELECT count(*) FROM actions").pluck().get(), 1000);
    const stored = store.actions.get(ids[123]!);
    assert.equal(stored?.summary, "select 123", "ids come back in row order");
    await sink.close();
    store.close();
    cleanup();
  });

  it("rows cross the thread intact: binary bodies, headers, status, pre-serialized facets, and a bad row fails its batch here", async () => {
    const { dir, cleanup } = tempDir();
    const store = openStore(dir);
    const sink = new ThreadedAuditSink(dir, (rows) => store.actions.insertEncoded(rows));
    const full: NewAction = {
      time: 1_700_000_000_000,
      verdict: "allow",
      status: 201,
      reqHeaders: { "content-type": "application/json" },
      reqBody: '{"a":1}',
      respBody: new Uint8Array([0, 1, 2, 255]),
      facets: { http: { method: "POST" } },
      flags: ["resp_body_truncated"],
    };
    const lean: NewAction = { time: 1_700_000_000_001, verdict: "deny", facets: { sql: { verb: "x" } }, facetsJson: '{"sql":{"verb":"pre"}}' };
    let ids: number[] = [];
    sink.submit([full, lean], (r) => (ids = "ids" in r ? r.ids : []));
    let failure: Error | undefined;
    sink.submit([{ time: Number.NaN, verdict: "allow" }], (r) => (failure = "error" in r ? r.error : undefined));
    sink.drainSync();
    const a = store.actions.get(ids[0]!)!;
    assert.equal(a.status, 201);
    assert.deepEqual(a.reqHeaders, { "content-type": "application/json" });
    assert.equal(a.reqBody, '{"a":1}');
    assert.ok(Buffer.isBuffer(a.respBody) && a.respBody.equals(Buffer.from([0, 1, 2, 255])), "a binary body is stored as a BLOB");
    assert.deepEqual(a.flags, ["resp_body_truncated"]);
    const b = store.actions.get(ids[1]!)!;
    assert.deepEqual(b.facets, { sql: { verb: "pre" } }, "facetsJson is stored verbatim");
    assert.equal(b.status, null);
    assert.match(failure?.message ?? "", /time must be a finite number/);
    await sink.close();
    store.close();
    cleanup();
  });

  it("bounds the backlog: a submitter that outruns the worker waits instead of queueing without limit", async () => {
    const { dir, cleanup } = tempDir();
    const store = openStore(dir);
    const sink = new ThreadedAuditSink(dir, (rows) => store.actions.insertEncoded(rows));
    const batches = MAX_IN_FLIGHT * 3;
    const size = 200;
    // Submitting is far faster than committing: without the bound this loop would end with almost nothing stored.
    for (let b = 0; b < batches; b++) sink.submit(Array.from({ length: size }, (_, i) => row(b * size + i)), () => {});
    const committed = store.db.prepare("SELECT count(*) FROM actions").pluck().get() as number;
    assert.ok(committed >= (batches - MAX_IN_FLIGHT - 1) * size, `only ${committed} rows committed when the submit loop ended`);
    sink.drainSync();
    assert.equal(store.db.prepare("SELECT count(*) FROM actions").pluck().get(), batches * size);
    await sink.close();
    store.close();
    cleanup();
  });

  it("after the worker is gone, batches are written on the calling thread", async () => {
    const { dir, cleanup } = tempDir();
    const store = openStore(dir);
    const sink = new ThreadedAuditSink(dir, (rows) => store.actions.insertEncoded(rows));
    await sink.close();
    let ids: number[] = [];
    sink.submit([row(1), row(2)], (r) => (ids = "ids" in r ? r.ids : []));
    assert.equal(ids.length, 2, "written synchronously by the fallback");
    assert.equal(store.actions.get(ids[1]!)?.summary, "select 2");
    store.close();
    cleanup();
  });
});
