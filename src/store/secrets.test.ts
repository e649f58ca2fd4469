import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { openMemoryStore, openStore } from "./db.js";
import { tempDir } from "./test-helpers.js";

const tmp = tempDir();
after(() => tmp.cleanup());

const GH = "ghp_REAL_SECRET_0123456789abcdef";
const SLACK_BOT = "xoxb-real-bot-token-9876";
const SLACK_USER = "xoxp-real-user-token-5555";

describe("SecretsRepo", () => {
  it("sets, replaces, reads and clears by (name, slot)", () => {
    const store = openMemoryStore();
    try {
      const s = store.secrets;
      assert.equal(s.get("github", "token"), undefined);
      s.set("github", "token", "old");
      s.set("github", "token", GH);
      assert.equal(s.get("github", "token"), GH);
      s.set("slack", "bot_token", SLACK_BOT);
      s.set("slack", "user_token", SLACK_USER);
      assert.equal(s.clear("slack", "bot_token"), 1);
      assert.equal(s.get("slack", "bot_token"), undefined);
      assert.equal(s.get("slack", "user_token"), SLACK_USER);
      assert.equal(s.clear("slack", "nope"), 0);
      s.set("slack", "bot_token", SLACK_BOT);
      assert.equal(s.clear("slack"), 2, "clear(name) removes every slot");
      assert.equal(s.get("slack", "user_token"), undefined);
      assert.equal(s.get("github", "token"), GH, "other credentials untouched");
    } finally {
      store.close();
    }
  });

  it("refuses empty values and names instead of recording a filled-but-empty slot", () => {
    const store = openMemoryStore();
    try {
      assert.throws(() => store.secrets.set("github", "token", ""), RangeError);
      assert.throws(() => store.secrets.set("", "token", "x"), RangeError);
      assert.throws(() => store.secrets.set("github", "", "x"), RangeError);
      assert.deepEqual(store.secrets.status(), []);
    } finally {
      store.close();
    }
  });

  it("status() lists names, slots and updated_at, grouped and sorted", () => {
    let clock = 10;
    const store = openMemoryStore({ now: () => clock });
    try {
      store.secrets.set("slack", "user_token", SLACK_USER);
      clock = 20;
      store.secrets.set("github", "token", GH);
      clock = 30;
      store.secrets.set("slack", "bot_token", SLACK_BOT);
      assert.deepEqual(store.secrets.status(), [
        { name: "github", slots: [{ slot: "token", updatedAt: 20 }] },
        {
          name: "slack",
          slots: [
            { slot: "bot_token", updatedAt: 30 },
            { slot: "user_token", updatedAt: 10 },
          ],
        },
      ]);
    } finally {
      store.close();
    }
  });

  it("status() never contains a secret value, in any form", () => {
    const store = openMemoryStore();
    try {
      const values = [GH, SLACK_BOT, SLACK_USER];
      store.secrets.set("github", "token", GH);
      store.secrets.set("slack", "bot_token", SLACK_BOT);
      store.secrets.set("slack", "user_token", SLACK_USER);
      const status = store.secrets.status();
      const json = JSON.stringify(status);
      const dump = JSON.stringify(status, (_k, v: unknown) => v, 2) + String(status) + Object.keys(status[0]!).join();
      for (const v of values) {
        assert.ok(!json.includes(v), "a secret value leaked into status()");
        assert.ok(!dump.includes(v));
        assert.ok(!json.includes(Buffer.from(v).toString("base64")), "base64 of a secret leaked into status()");
        assert.ok(!json.includes(Buffer.from(v).toString("hex")), "hex of a secret leaked into status()");
      }
      // Nor any key that would hold one.
      for (const entry of status) {
        assert.deepEqual(Object.keys(entry).sort(), ["name", "slots"]);
        for (const slot of entry.slots) assert.deepEqual(Object.keys(slot).sort(), ["slot", "updatedAt"]);
      }
    } finally {
      store.close();
    }
  });

  it("persists across reopen, in the 0600 database file", () => {
    const dir = path.join(tmp.dir, "persist");
    const a = openStore(dir);
    a.secrets.set("github", "token", GH);
    a.close();
    assert.equal(fs.statSync(path.join(dir, "clawpatrol.db")).mode & 0o777, 0o600);
    const b = openStore(dir);
    try {
      assert.equal(b.secrets.get("github", "token"), GH);
    } finally {
      b.close();
    }
  });
});
