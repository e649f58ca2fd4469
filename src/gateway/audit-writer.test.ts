import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { openMemoryStore } from "../store/db.js";
import type { NewAction } from "../store/actions.js";
import { AuditWriter } from "./audit-writer.js";

const row = (summary: string): NewAction => ({ time: Date.now(), verdict: "allow", summary, endpoint: "https.api", family: "http" }) as NewAction;

describe("audit writer", () => {
  it("batches rows, commits them within the delay, and tells subscribers with ids", async () => {
    const store = openMemoryStore();
    let commits = 0;
    const sink = { insertMany: (rows: readonly NewAction[]) => (commits++, store.actions.insertMany(rows)) };
    const w = new AuditWriter(sink, { maxDelayMs: 20 });
    const seen: number[] = [];
    w.subscribe((r) => seen.push(r.id));
    for (let i = 0; i < 10; i++) w.record(row(`GET /${i}`));
    assert.equal(store.actions.list({}).rows.length, 0, "not yet committed");
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(commits, 1, "one transaction for the burst");
    assert.equal(store.actions.list({}).rows.length, 10);
    assert.equal(seen.length, 10);
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
    store.close();
  });
  it("flushes at once when the batch is full, and on flush()", () => {
    const store = openMemoryStore();
    const w = new AuditWriter(store.actions, { maxBatch: 3, maxDelayMs: 10_000 });
    for (let i = 0; i < 3; i++) w.record(row(`x${i}`));
    assert.equal(store.actions.list({}).rows.length, 3);
    w.record(row("y"));
    w.flush();
    assert.equal(store.actions.list({}).rows.length, 4);
    store.close();
  });
  it("a failing write is reported, not thrown, and a broken subscriber does not stop others", () => {
    const errors: number[] = [];
    const w = new AuditWriter({ insertMany: () => { throw new Error("disk full"); } }, { onError: (_e, n) => errors.push(n) });
    w.record(row("a"));
    w.flush();
    assert.deepEqual(errors, [1]);
    const store = openMemoryStore();
    const ok = new AuditWriter(store.actions);
    const got: string[] = [];
    ok.subscribe(() => { throw new Error("bad listener"); });
    ok.subscribe((r) => got.push(r.summary ?? ""));
    ok.record(row("b"));
    ok.flush();
    assert.deepEqual(got, ["b"]);
    store.close();
  });
});
