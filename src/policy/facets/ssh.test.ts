import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sshFacets } from "./ssh.js";

describe("sshFacets", () => {
  it("fills every field with its zero value", () => {
    assert.deepEqual(sshFacets(), {
      verb: "",
      command: "",
      subsystem: "",
      forward_host: "",
      forward_port: 0,
      user: "",
      stdin: "",
    });
  });
  it("keeps given values, lower-cases only the verb", () => {
    const f = sshFacets({ verb: "Forward", forward_host: "DB.internal", forward_port: 5432, user: "Ubuntu", command: "LS" });
    assert.equal(f.verb, "forward");
    assert.equal(f.forward_host, "DB.internal");
    assert.equal(f.forward_port, 5432);
    assert.equal(f.user, "Ubuntu");
    assert.equal(f.command, "LS");
  });
  it("a nonsensical port becomes 0 instead of throwing", () => {
    for (const p of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) assert.equal(sshFacets({ forward_port: p }).forward_port, 0);
    assert.equal(sshFacets({ forward_port: 70000 }).forward_port, 70000);
  });
});
