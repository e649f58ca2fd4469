import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { buildListQuery, MAX_LIST_LIMIT, type ActionFilter, type NewAction } from "./actions.js";
import { openMemoryStore, openStore, type Store } from "./db.js";
import { sampleAction, tempDir } from "./test-helpers.js";

const BASE = Date.UTC(2025, 0, 1);
const ROWS = 400;
/** Times are not monotonic in id (a batch may record an older request after a newer one). */
const timeOf = (i: number): number => BASE + i * 1000 - (i % 5) * 700;

type Stored = NewAction & { id: number };

function oracle(rows: Stored[], f: ActionFilter): number[] {
  const match = (v: string | undefined, m: string | readonly string[] | undefined): boolean =>
    m === undefined || (typeof m === "string" ? v === m : m.includes(v ?? ""));
  const text = f.text?.toLowerCase();
  return rows
    .filter(
      (r) =>
        (f.since === undefined || r.time >= f.since) &&
        (f.until === undefined || r.time < f.until) &&
        (f.before === undefined || r.id < f.before) &&
        (f.after === undefined || r.id > f.after) &&
        match(r.device, f.device) &&
        match(r.profile, f.profile) &&
        match(r.endpoint, f.endpoint) &&
        match(r.verdict, f.verdict) &&
        match(r.rule, f.rule) &&
        match(r.family, f.family) &&
        (text === undefined ||
          (r.host ?? "").toLowerCase().includes(text) ||
          (r.summary ?? "").toLowerCase().includes(text)),
    )
    .map((r) => r.id)
    .sort((a, b) => b - a);
}

/** Walks every page with a small page size; checks page invariants on the way. */
function listAll(store: Store, f: ActionFilter, pageSize: number): number[] {
  const ids: number[] = [];
  let before: number | undefined = f.before;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 1000, "pagination does not terminate");
    const page = store.actions.list({ ...f, before, limit: pageSize });
    assert.ok(page.rows.length <= pageSize);
    ids.push(...page.rows.map((r) => r.id));
    if (page.nextBefore === null) break;
    assert.equal(page.rows.length, pageSize, "a non-final page is full");
    assert.equal(page.nextBefore, page.rows[page.rows.length - 1]!.id);
    before = page.nextBefore;
  }
  return ids;
}

describe("ActionsRepo", () => {
  let store: Store;
  let rows: Stored[];
  before(() => {
    store = openMemoryStore();
    const input = Array.from({ length: ROWS }, (_, i) => sampleAction(i, timeOf(i)));
    const ids = store.actions.insertMany(input);
    rows = input.map((r, i) => ({ ...r, id: ids[i]! }));
  });
  after(() => store.close());

  it("assigns increasing ids and round-trips every field", () => {
    for (let i = 1; i < rows.length; i++) assert.ok(rows[i]!.id > rows[i - 1]!.id);
    const s = openMemoryStore();
    try {
      const full: NewAction = {
        time: BASE + 1,
        device: "laptop",
        profile: "default",
        transport: "proxy",
        endpoint: "https.github",
        family: "http",
        host: "api.github.com",
        credential: "github",
        rule: "writes-need-approval",
        verdict: "approve",
        reason: "a human said yes",
        approvals: [{ approver: "human", decision: "allow", by: "alice", at: BASE + 5 }],
        facets: { method: "post", path: "/repos/x/issues", big: 12n, huge: 2n ** 70n },
        summary: "POST /repos/x/issues",
        status: 201,
        latencyMs: 12.5,
        bytesIn: 321,
        bytesOut: 4567,
        reqHeaders: { "Content-Type": "application/json", Authorization: "***", Accept: ["a", "b"] },
        reqBody: '{"title":"hi"}',
        respHeaders: { "Content-Type": "application/octet-stream" },
        respBody: new Uint8Array([0, 1, 2, 255]),
        flags: ["resp_body_truncated"],
      };
      const id = s.actions.insert(full);
      const got = s.actions.get(id)!;
      assert.deepEqual(got, {
        ...full,
        id,
        facets: { method: "post", path: "/repos/x/issues", big: 12, huge: (2n ** 70n).toString() },
        respBody: Buffer.from([0, 1, 2, 255]),
      });
      const minimal = s.actions.get(s.actions.insert({ time: BASE, verdict: "deny" }))!;
      assert.equal(minimal.device, "");
      assert.equal(minimal.status, null);
      assert.equal(minimal.latencyMs, null);
      assert.equal(minimal.reqBody, null);
      assert.equal(minimal.reqHeaders, null);
      assert.deepEqual(minimal.approvals, []);
      assert.deepEqual(minimal.facets, {});
      assert.deepEqual(minimal.flags, []);
      assert.equal(s.actions.get(999_999), undefined);
      // Lists leave the sampled headers/bodies out.
      const listed = s.actions.list({ endpoint: "https.github" }).rows[0]!;
      assert.equal(listed.id, id);
      assert.ok(!("reqBody" in listed) && !("respHeaders" in listed));
    } finally {
      s.close();
    }
  });

  it("a batch mixing grouped lean rows and full rows gets each row's own id, in order", () => {
    const s = openMemoryStore();
    // Runs of lean rows (no status, headers or bodies) of every length around the group size, between full rows.
    const input: NewAction[] = [];
    let n = 0;
    for (const run of [0, 1, 7, 8, 9, 16, 17, 3, 25]) {
      for (let k = 0; k < run; k++) input.push({ time: BASE + n, verdict: "allow", summary: `lean ${n++}`, facets: { sql: { n } } });
      input.push({ time: BASE + n, verdict: "deny", status: 403, summary: `full ${n++}`, respBody: "no" });
    }
    const ids = s.actions.insertMany(input);
    assert.equal(ids.length, input.length);
    ids.forEach((id, i) => {
      if (i > 0) assert.equal(id, ids[i - 1]! + 1, "consecutive");
      const got = s.actions.get(id)!;
      assert.equal(got.summary, input[i]!.summary);
      assert.equal(got.status, input[i]!.status ?? null);
    });
    s.close();
  });

  it("rejects an unknown verdict or a bad time; a bad row rolls back its whole batch", () => {
    const before = store.actions.list({ limit: 1 }).rows[0]!.id;
    assert.throws(() => store.actions.insert({ time: BASE, verdict: "maybe" as never }), /verdict/);
    assert.throws(() => store.actions.insert({ time: Number.NaN, verdict: "allow" }), /time/);
    assert.throws(() => store.actions.insertMany([sampleAction(1, BASE), { time: BASE, verdict: "nope" as never }]), /verdict/);
    assert.equal(store.actions.list({ limit: 1 }).rows[0]!.id, before, "nothing from the failed batch was stored");
    assert.deepEqual(store.actions.insertMany([]), []);
  });

  const t = (i: number): number => timeOf(i);
  const cases: [string, ActionFilter][] = [
    ["no filter", {}],
    ["device", { device: "ci" }],
    ["profile + verdict", { profile: "ops", verdict: "deny" }],
    ["endpoint set", { endpoint: ["https.github", "postgres.main"] }],
    ["verdict set", { verdict: ["deny", "error"] }],
    ["rule + family", { rule: "read-only", family: "http" }],
    ["family", { family: "sql" }],
    ["time range", { since: t(100), until: t(300) }],
    ["since only", { since: t(350) }],
    ["until only", { until: t(20) }],
    ["text in path, with LIKE metacharacters taken literally", { text: "acme/100%_done" }],
    ["text that would match only as a wildcard", { text: "widget/issues/1_" }],
    ["text in host, case-insensitive", { text: "GITHUB.com" }],
    ["text in a SQL summary", { text: "from t12" }],
    ["combined", { device: "laptop", since: t(50), until: t(350), text: "issues", verdict: ["allow", "deny"] }],
    ["id window", { after: 50, before: 200 }],
    ["no such device", { device: "nobody" }],
    ["empty set", { device: [] }],
  ];
  for (const [name, filter] of cases) {
    it(`list: ${name} — every page, newest first, equals the reference filter`, () => {
      const expected = oracle(rows, filter);
      const got = listAll(store, filter, 37);
      assert.deepEqual(got, expected);
      if (name.startsWith("text that would match only")) assert.equal(got.length, 0);
      else if (!name.startsWith("no such") && !name.startsWith("empty")) assert.ok(expected.length > 0, "case selects something");
    });
  }

  it("list: returns summaries with the filtered fields intact", () => {
    const page = store.actions.list({ verdict: "deny", limit: 5 });
    assert.equal(page.rows.length, 5);
    for (const r of page.rows) {
      const src = rows.find((x) => x.id === r.id)!;
      assert.equal(r.verdict, "deny");
      assert.equal(r.device, src.device);
      assert.equal(r.time, src.time);
      assert.deepEqual(r.facets, src.facets);
    }
  });

  it("list: limit defaults to 100, is capped, and nonsense limits are clamped", () => {
    assert.equal(store.actions.list().rows.length, 100);
    assert.equal(store.actions.list({ limit: 0 }).rows.length, 1);
    assert.equal(store.actions.list({ limit: -3 }).rows.length, 1);
    assert.equal(store.actions.list({ limit: Number.NaN }).rows.length, 100);
    const big = openMemoryStore();
    try {
      big.actions.insertMany(Array.from({ length: MAX_LIST_LIMIT + 50 }, (_, i) => sampleAction(i, BASE + i)));
      const page = big.actions.list({ limit: 1_000_000 });
      assert.equal(page.rows.length, MAX_LIST_LIMIT);
      assert.notEqual(page.nextBefore, null);
      assert.equal(big.actions.list({ before: page.nextBefore!, limit: 1_000_000 }).rows.length, 50);
    } finally {
      big.close();
    }
  });

  it("list: filters never sort; the endpoint filter uses its index", () => {
    // Only endpoint, time and fired rules are indexed (migration 4): each index is paid per audited action.
    for (const col of ["device", "profile", "endpoint", "verdict", "rule", "family"] as const) {
      const q = buildListQuery({ [col]: "x", before: 1000 })!;
      const plan = (store.db.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...q.params) as { detail: string }[])
        .map((p) => p.detail)
        .join(" | ");
      if (col === "endpoint") assert.match(plan, /INDEX idx_actions_endpoint\b/, plan);
      assert.doesNotMatch(plan, /TEMP B-TREE/, `${col}: ${plan}`);
    }
    const del = (store.db.prepare("EXPLAIN QUERY PLAN DELETE FROM actions WHERE endpoint = ? AND time < ?").all("e", 1) as {
      detail: string;
    }[])
      .map((p) => p.detail)
      .join(" | ");
    assert.match(del, /idx_actions_endpoint\b/);
  });
});

describe("ActionsRepo retention", () => {
  function seeded(): { store: Store; rows: Stored[] } {
    const store = openMemoryStore();
    const input = Array.from({ length: 300 }, (_, i) => sampleAction(i, timeOf(i)));
    const ids = store.actions.insertMany(input);
    return { store, rows: input.map((r, i) => ({ ...r, id: ids[i]! })) };
  }
  const remaining = (store: Store): number[] => listAll(store, {}, 1000);

  it("deleteOlderThan removes exactly the rows before the cutoff and returns the count", () => {
    const { store, rows } = seeded();
    try {
      const cutoff = timeOf(120);
      const expected = rows.filter((r) => r.time >= cutoff).map((r) => r.id).reverse();
      assert.equal(store.actions.deleteOlderThan(cutoff), rows.length - expected.length);
      assert.deepEqual(remaining(store), expected);
      assert.equal(store.actions.deleteOlderThan(cutoff), 0, "idempotent");
    } finally {
      store.close();
    }
  });

  it("deleteOlderThan(cutoff, endpoint) touches only that endpoint", () => {
    const { store, rows } = seeded();
    try {
      const cutoff = timeOf(200);
      const gone = (r: Stored): boolean => r.endpoint === "https.github" && r.time < cutoff;
      assert.equal(store.actions.deleteOlderThan(cutoff, "https.github"), rows.filter(gone).length);
      assert.deepEqual(remaining(store), rows.filter((r) => !gone(r)).map((r) => r.id).reverse());
    } finally {
      store.close();
    }
  });

  it("applyRetention: per-endpoint retention overrides actions_keep in both directions; null keeps forever", () => {
    const { store, rows } = seeded();
    try {
      const now = timeOf(299) + 1;
      const keep = 100_000; // ~100 rows
      const endpoints = { "postgres.main": 250_000, "https.anthropic": 10_000, "kubernetes.prod": null };
      const limitFor = (e: string | undefined): number | null =>
        e !== undefined && e in endpoints ? endpoints[e as keyof typeof endpoints] : keep;
      const kept = rows.filter((r) => {
        const k = limitFor(r.endpoint);
        return k === null || r.time >= now - k;
      });
      const deleted = store.actions.applyRetention(now, { keepMs: keep, endpoints });
      assert.equal(deleted, rows.length - kept.length);
      assert.deepEqual(remaining(store), kept.map((r) => r.id).reverse());
      // Sanity: each rule actually removed and kept something.
      for (const e of ["postgres.main", "https.anthropic", "https.github"]) {
        assert.ok(kept.some((r) => r.endpoint === e) && kept.length < rows.length, e);
      }
      assert.equal(kept.filter((r) => r.endpoint === "kubernetes.prod").length, rows.filter((r) => r.endpoint === "kubernetes.prod").length);
      assert.equal(store.actions.applyRetention(now, { keepMs: null }), 0, "off keeps everything");
    } finally {
      store.close();
    }
  });

  it("never reuses an id, even after the newest rows are deleted", () => {
    const store = openMemoryStore();
    try {
      const ids = store.actions.insertMany([sampleAction(0, 10), sampleAction(1, 20)]);
      assert.equal(store.actions.deleteOlderThan(100), 2);
      const next = store.actions.insert(sampleAction(2, 30));
      assert.ok(next > ids[1]!, `id ${next} reused`);
    } finally {
      store.close();
    }
  });
});

describe("ActionsRepo throughput (logged, not asserted)", () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it("inserts 10k rows one by one and batched into a WAL file database", (t) => {
    const N = 10_000;
    const rows = Array.from({ length: N }, (_, i) => sampleAction(i, BASE + i));
    const store = openStore(path.join(tmp.dir, "bench"));
    try {
      let start = process.hrtime.bigint();
      for (const r of rows) store.actions.insert(r);
      const single = Number(process.hrtime.bigint() - start) / 1e9;
      start = process.hrtime.bigint();
      for (let i = 0; i < N; i += 500) store.actions.insertMany(rows.slice(i, i + 500));
      const batched = Number(process.hrtime.bigint() - start) / 1e9;
      const msg =
        `actions insert, ${N} rows: single ${Math.round(N / single)} rows/s (${((single * 1e6) / N).toFixed(1)} µs/row); ` +
        `batched by 500 ${Math.round(N / batched)} rows/s (${((batched * 1e6) / N).toFixed(1)} µs/row)`;
      t.diagnostic(msg);
      console.log(msg);
      assert.equal(store.actions.list({ limit: 1 }).rows[0]!.id, 2 * N);
    } finally {
      store.close();
    }
  });
});
