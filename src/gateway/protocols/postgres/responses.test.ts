/**
 * ResponseQueue: where the gateway's own answers (denials) land among the
 * upstream's, mirroring Postgres' pipelining and skip-to-Sync rules.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ResponseQueue } from "./responses.js";
import type { TxStatus } from "./wire.js";

/** An owed answer that records the status it was built with and returns a marker. */
function owed(name: string, seen: { name: string; status: TxStatus }[] = []) {
  return (status: TxStatus) => {
    seen.push({ name, status });
    return Buffer.from(name);
  };
}
const names = (bufs: Buffer[]) => bufs.map((b) => b.toString());
const Z = (s: TxStatus) => s.charCodeAt(0);

describe("ResponseQueue", () => {
  it("releases an owed answer at once when nothing is pending", () => {
    const q = new ResponseQueue("I");
    assert.deepEqual(names(q.owe(owed("deny1"))), ["deny1"]);
    assert.equal(q.size, 0);
    assert.deepEqual(names(q.owe(owed("deny2"))), ["deny2"]);
  });

  it("holds an owed answer behind Parse/Bind/Execute until their terminal messages", () => {
    const q = new ResponseQueue<string>("I");
    q.forwarded("P", "p");
    q.forwarded("B", "b");
    q.forwarded("E", "e");
    assert.deepEqual(q.owe(owed("deny")), []);
    assert.equal(q.head?.data, "p");
    // Non-terminal traffic (notices, parameter status, data rows) releases nothing.
    for (const t of ["N", "S", "A", "D", "T", "2", "C"]) {
      assert.deepEqual(q.onUpstream(t, undefined).release, [], `type ${t} before ParseComplete`);
    }
    // ... note "2"/"C" above did not end the Parse either:
    assert.equal(q.head?.type, "P");
    assert.deepEqual(q.onUpstream("1", undefined).release, []);
    assert.equal(q.head?.type, "B");
    assert.deepEqual(q.onUpstream("D", undefined).release, []);
    assert.deepEqual(q.onUpstream("2", undefined).release, []);
    assert.equal(q.head?.type, "E");
    assert.deepEqual(q.onUpstream("D", undefined).release, []);
    const eff = q.onUpstream("C", undefined);
    assert.deepEqual(names(eff.release), ["deny"]);
    assert.deepEqual(eff.skipped, []);
    assert.equal(q.size, 0);
  });

  it("ends Execute on EmptyQueryResponse or PortalSuspended, Describe on RowDescription or NoData, Close on CloseComplete", () => {
    for (const [msg, term] of [
      ["E", "I"],
      ["E", "s"],
      ["D", "T"],
      ["D", "n"],
      ["C", "3"],
    ] as const) {
      const q = new ResponseQueue("I");
      q.forwarded(msg);
      q.owe(owed("x"));
      if (msg === "D") assert.deepEqual(q.onUpstream("t", undefined).release, [], "ParameterDescription does not end Describe");
      assert.deepEqual(names(q.onUpstream(term, undefined).release), ["x"], `${msg} ended by ${term}`);
    }
  });

  it("releases owed answers in order, each after the message queued before it", () => {
    const q = new ResponseQueue("I");
    q.forwarded("Q");
    q.owe(owed("a"));
    q.owe(owed("b"));
    q.forwarded("Q");
    q.owe(owed("c"));
    assert.deepEqual(names(q.onUpstream("Z", Z("I")).release), ["a", "b"]);
    assert.deepEqual(names(q.onUpstream("Z", Z("I")).release), ["c"]);
  });

  it("an upstream error in an extended batch drops owed answers before the Sync but not after", () => {
    const q = new ResponseQueue<string>("I");
    q.forwarded("P", "p1");
    q.forwarded("B", "b1");
    q.owe(owed("before-sync"));
    q.forwarded("E", "e1");
    q.forwarded("S", "s1");
    q.owe(owed("after-sync"));
    q.forwarded("Q", "q");
    const err = q.onUpstream("E", undefined);
    assert.deepEqual(err.skipped.map((e) => e.data), ["b1", "e1"]);
    assert.deepEqual(err.release, []);
    assert.equal(q.head?.type, "S");
    const z = q.onUpstream("Z", Z("I"));
    assert.deepEqual(names(z.release), ["after-sync"]);
    assert.deepEqual(z.skipped, []);
    assert.equal(q.head?.data, "q");
  });

  it("an error on a later message of the batch skips only what follows it", () => {
    const q = new ResponseQueue<string>("I");
    q.forwarded("P", "p");
    q.forwarded("B", "b");
    q.forwarded("E", "e");
    q.owe(owed("deny"));
    q.forwarded("S", "s");
    q.onUpstream("1", undefined);
    q.onUpstream("2", undefined);
    const eff = q.onUpstream("E", undefined); // the Execute failed
    assert.deepEqual(eff.skipped, [], "the failed Execute is answered, not skipped");
    assert.deepEqual(eff.release, [], "the deny after it is dropped");
    assert.deepEqual(q.onUpstream("Z", Z("E")).release, []);
    assert.equal(q.size, 0);
  });

  it("a simple Query error does not end the Query; its ReadyForQuery does", () => {
    const q = new ResponseQueue<string>("I");
    q.forwarded("Q", "q1");
    q.owe(owed("deny"));
    const e = q.onUpstream("E", undefined);
    assert.deepEqual(e.release, []);
    assert.deepEqual(e.skipped, []);
    assert.equal(q.head?.data, "q1");
    assert.deepEqual(q.onUpstream("C", undefined).release, [], "CommandComplete does not end a Query");
    assert.deepEqual(names(q.onUpstream("Z", Z("I")).release), ["deny"]);
  });

  it("builds an owed answer with the status of the ReadyForQuery before it", () => {
    const seen: { name: string; status: TxStatus }[] = [];
    const q = new ResponseQueue("I");
    q.forwarded("Q"); // BEGIN
    q.owe(owed("after-begin", seen));
    q.forwarded("Q"); // a failing statement
    q.owe(owed("after-fail", seen));
    assert.deepEqual(seen, [], "nothing built before it is released");
    q.onUpstream("C", undefined);
    q.onUpstream("Z", Z("T"));
    assert.equal(q.status, "T");
    assert.deepEqual(seen, [{ name: "after-begin", status: "T" }]);
    q.onUpstream("E", undefined);
    q.onUpstream("Z", Z("E"));
    assert.deepEqual(seen.at(-1), { name: "after-fail", status: "E" });
    // Owed with nothing pending uses the current status.
    q.owe(owed("now", seen));
    assert.deepEqual(seen.at(-1), { name: "now", status: "E" });
    // A ReadyForQuery without a body keeps the status.
    q.forwarded("S");
    q.onUpstream("Z", undefined);
    assert.equal(q.status, "E");
  });

  it("messages forwarded after an upstream error but before the Sync are skipped, not waited for", () => {
    // P B E Flush goes up, the Parse fails; the agent sends Describe, Execute (and a denied
    // message) and the Sync only afterwards. Postgres ignores all of them until the Sync, so
    // the queue must not wait for their answers — the Sync's ReadyForQuery ends the batch.
    const q = new ResponseQueue<string>("I");
    q.forwarded("P", "p");
    q.forwarded("B", "b");
    q.forwarded("E", "e");
    const err = q.onUpstream("E", undefined);
    assert.deepEqual(err.skipped.map((e) => e.data), ["b", "e"]);
    q.forwarded("D", "d2");
    assert.deepEqual(q.owe(owed("ignored-deny")), [], "Postgres would not answer a message while skipping to Sync");
    q.forwarded("E", "e2");
    q.forwarded("S", "s");
    q.owe(owed("after-sync"));
    assert.equal(q.head?.data, "s", "the Sync is next to be answered");
    q.onUpstream("N", undefined); // a notice meanwhile ends nothing
    const z = q.onUpstream("Z", Z("I"));
    assert.deepEqual(z.skipped.map((e) => e.data), ["d2", "e2"]);
    assert.deepEqual(names(z.release), ["after-sync"]);
    assert.equal(q.size, 0);
    // Back to normal afterwards.
    q.forwarded("P", "p3");
    q.owe(owed("x"));
    assert.deepEqual(names(q.onUpstream("1", undefined).release), ["x"]);
  });
});
