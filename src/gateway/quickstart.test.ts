import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatDiagnostic } from "../config/diagnostics.js";
import { loadPolicy } from "../config/policy.js";
import { memIO } from "../config/testing.js";
import { localTransportsOf } from "./transport/local.js";
import { QUICKSTART_HCL } from "./quickstart.js";

describe("quickstart config", () => {
  it("loads with no diagnostics and keeps everything on loopback", () => {
    const r = loadPolicy("q/gateway.hcl", memIO({ "q/gateway.hcl": QUICKSTART_HCL }));
    assert.deepEqual(r.diagnostics.map(formatDiagnostic), []);
    const gw = r.policy!.config.gateway!;
    assert.equal(gw.fields.state_dir, ".clawpatrol");
    assert.match(String(gw.fields.dashboard_listen), /^127\.0\.0\.1:/);
    const t = localTransportsOf(gw);
    assert.equal(t.proxies.length, 1);
    assert.match(t.proxies[0]!.listen, /^127\.0\.0\.1:/);
    assert.equal(t.proxies[0]!.profile, "default");
  });
});
