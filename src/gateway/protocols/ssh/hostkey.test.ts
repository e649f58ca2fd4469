import { describe, it } from "node:test";
import assert from "node:assert/strict";
import ssh2 from "ssh2";
import { GATEWAY, policyOf } from "../../../config/testing.js";
import { endpointReadsStdin } from "./gate.js";
import { fingerprintOf, hostKeyAlgorithmsFor, hostKeySettingKey, loadOrCreateHostKey, parsePinnedHostKey } from "./hostkey.js";

const { utils } = ssh2;

describe("ssh host keys", () => {
  it("mints an ed25519 host key once per endpoint and keeps it", () => {
    const m = new Map<string, string>();
    const settings = { get: (k: string) => m.get(k), setIfAbsent: (k: string, v: string) => (m.has(k) ? m.get(k)! : (m.set(k, v), v)) };
    const a = loadOrCreateHostKey(settings, "ssh.build");
    const b = loadOrCreateHostKey(settings, "ssh.build");
    const c = loadOrCreateHostKey(settings, "ssh.other");
    assert.equal(a.privateKey, b.privateKey);
    assert.notEqual(a.fingerprint, c.fingerprint);
    assert.match(a.publicKey, /^ssh-ed25519 AAAA[A-Za-z0-9+/]+=*$/);
    assert.match(a.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.ok(m.get(hostKeySettingKey("ssh.build"))!.startsWith("-----BEGIN OPENSSH PRIVATE KEY-----"));
  });

  it("parses ssh-keyscan lines and plain public keys; refuses garbage and mismatched types", () => {
    const pub = utils.generateKeyPairSync("ed25519").public.split(" ");
    const blob = Buffer.from(pub[1]!, "base64");
    for (const text of [`${pub[0]} ${pub[1]}`, `[host]:2222 ${pub[0]} ${pub[1]}`, `# comment\nhost ${pub[0]} ${pub[1]} trailing comment\n`]) {
      const p = parsePinnedHostKey(text);
      assert.ok(!(p instanceof Error), text);
      assert.equal(p.type, "ssh-ed25519");
      assert.ok(p.blob.equals(blob));
      assert.equal(p.fingerprint, fingerprintOf(blob));
    }
    assert.ok(parsePinnedHostKey("not a key") instanceof Error);
    assert.ok(parsePinnedHostKey(`ssh-rsa ${pub[1]}`) instanceof Error, "blob type must match the declared type");
    assert.ok(parsePinnedHostKey("ssh-ed25519 !!!") instanceof Error);
    assert.deepEqual(hostKeyAlgorithmsFor("ssh-ed25519"), ["ssh-ed25519"]);
    assert.ok(hostKeyAlgorithmsFor("ssh-rsa").includes("rsa-sha2-256"));
  });

  it("turns the stdin pre-gate on only for endpoints with a rule reading ssh.stdin", () => {
    const p = policyOf(`${GATEWAY}
endpoint "ssh" "a" { hosts = ["a.test"] }
endpoint "ssh" "b" { hosts = ["b.test"] }
rule "r1" {
  endpoint  = ssh.a
  condition = "ssh.stdin.contains('x')"
  verdict   = "deny"
}
rule "r2" {
  endpoint  = ssh.b
  condition = "ssh.command == 'x'"
  verdict   = "deny"
}
`);
    assert.equal(endpointReadsStdin(p.endpoints.get("a")!), true);
    assert.equal(endpointReadsStdin(p.endpoints.get("b")!), false);
  });
});
