import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { commandArgv } from "./run.js";

describe("clawpatrol run: the command's privileges", () => {
  it("drops back to the sudo user before exec when run through sudo", () => {
    assert.deepEqual(commandArgv("cprun-1", "curl", ["-s", "https://x"], { SUDO_UID: "1000", SUDO_GID: "1000" }, 0), [
      "ip", "netns", "exec", "cprun-1", "setpriv", "--reuid=1000", "--regid=1000", "--init-groups", "--", "curl", "-s", "https://x",
    ]);
  });

  it("stays as it is when root ran it directly, or for malformed sudo variables", () => {
    assert.deepEqual(commandArgv("n", "id", [], {}, 0), ["ip", "netns", "exec", "n", "id"]);
    assert.deepEqual(commandArgv("n", "id", [], { SUDO_UID: "0", SUDO_GID: "0" }, 0), ["ip", "netns", "exec", "n", "id"]);
    assert.deepEqual(commandArgv("n", "id", [], { SUDO_UID: "1000; rm -rf /", SUDO_GID: "1000" }, 0), ["ip", "netns", "exec", "n", "id"]);
  });
});
