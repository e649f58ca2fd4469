import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { openMemoryStore, openStore } from "./db.js";
import { tempDir } from "./test-helpers.js";
import { MIGRATIONS } from "./migrations.js";

const tmp = tempDir();
after(() => tmp.cleanup());

describe("SettingsRepo", () => {
  it("gets, sets, overwrites and deletes", () => {
    let clock = 100;
    const store = openMemoryStore({ now: () => clock });
    try {
      const s = store.settings;
      assert.equal(s.get("missing"), undefined);
      s.set("k", "v1");
      clock = 200;
      s.set("k", "v2");
      assert.equal(s.get("k"), "v2");
      assert.equal(store.db.prepare("SELECT updated_at FROM settings WHERE key = 'k'").pluck().get(), 200);
      assert.equal(s.delete("k"), true);
      assert.equal(s.delete("k"), false);
      assert.equal(s.get("k"), undefined);
    } finally {
      store.close();
    }
  });

  it("setIfAbsent stores the first value and returns it to every later caller", () => {
    const store = openMemoryStore();
    try {
      const s = store.settings;
      assert.equal(s.setIfAbsent("tls.ca", "first"), "first");
      assert.equal(s.setIfAbsent("tls.ca", "second"), "first");
      assert.equal(s.get("tls.ca"), "first");
    } finally {
      store.close();
    }
  });

  it("setIfAbsent across two Store instances on the same file keeps one value", () => {
    const dir = path.join(tmp.dir, "two");
    const a = openStore(dir);
    const b = openStore(dir);
    try {
      assert.equal(a.settings.setIfAbsent("ca", "from-a"), "from-a");
      assert.equal(b.settings.setIfAbsent("ca", "from-b"), "from-a");
      assert.equal(b.settings.get("ca"), "from-a");
    } finally {
      a.close();
      b.close();
    }
  });

  it("under a real race (8 threads, own connections, released together) everyone gets the same CA", async () => {
    const N = 8;
    const ROUNDS = 25;
    const dir = path.join(tmp.dir, "race"); // fresh: the threads also race the first migration
    const barrier = new Int32Array(new SharedArrayBuffer(4 * (ROUNDS + 1)));
    const dbUrl = new URL("./db.js", import.meta.url).href;
    // Each thread: open the store, then for each round wait until all threads
    // are at the barrier and mint at once.
    const code = `
      const { workerData, parentPort } = require("node:worker_threads");
      const { barrier, dir, dbUrl, id, n, rounds } = workerData;
      const arrive = (slot) => {
        if (Atomics.add(barrier, slot, 1) + 1 === n) Atomics.notify(barrier, slot);
        for (let v; (v = Atomics.load(barrier, slot)) < n; ) Atomics.wait(barrier, slot, v, 50);
      };
      import(dbUrl).then(({ openStore }) => {
        arrive(0);
        const store = openStore(dir);
        const got = [];
        for (let r = 1; r <= rounds; r++) {
          arrive(r);
          got.push(store.settings.setIfAbsent("ca.cert_pem." + r, "cert-from-thread-" + id));
        }
        store.close();
        parentPort.postMessage(got);
      }).catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
    `;
    const results = await Promise.all(
      Array.from({ length: N }, (_, id) => {
        const w = new Worker(code, { eval: true, workerData: { barrier, dir, dbUrl, id, n: N, rounds: ROUNDS } });
        return new Promise<string[]>((resolve, reject) => {
          w.once("message", (m: string[] | { error: string }) => ("error" in m ? reject(new Error(m.error)) : resolve(m)));
          w.once("error", reject);
        }).finally(() => void w.terminate());
      }),
    );
    const store = openStore(dir);
    try {
      assert.deepEqual(store.db.prepare("SELECT version FROM schema_migrations ORDER BY version").pluck().all(), MIGRATIONS.map((m) => m.version));
      for (let r = 1; r <= ROUNDS; r++) {
        const stored = store.settings.get(`ca.cert_pem.${r}`);
        assert.match(stored ?? "", /^cert-from-thread-\d$/);
        for (const got of results) assert.equal(got[r - 1], stored, `round ${r}: a thread kept a CA that lost the race`);
      }
    } finally {
      store.close();
    }
  });
});
