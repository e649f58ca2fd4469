/**
 * The SSH runtime on in-process fakes: an ssh2 client as the agent, the
 * interceptor fed from a loopback listener, and a recording ssh2 server as
 * the upstream. These tests fail for a broken gate: they check what the
 * upstream *received* (nothing, for a deny), not only what the agent saw.
 */
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server as NetServer } from "node:net";
import ssh2 from "ssh2";
import type { AuthContext, ClientChannel, Connection, ServerChannel, Session } from "ssh2";
import { GATEWAY, policyOf } from "../../../config/testing.js";
import type { CompiledPolicy } from "../../../policy/compiled.js";
import type { NewAction } from "../../../store/actions.js";
import type { ApprovalOutcome } from "../../approvals.js";
import type { Flow } from "../../flow.js";
import { memoryLog } from "../http/testkit.js";
import { fingerprintOf } from "./hostkey.js";
import { SshInterceptor } from "./intercept.js";
import type { SshInterceptDeps } from "./ports.js";

const { Client, Server, utils } = ssh2;

const HCL = `${GATEWAY}
endpoint "ssh" "box" { hosts = ["box.test:22"] }
credential "ssh_key" "box_key" { endpoint = ssh.box }
approver "human_approver" "ops" { channel = "#ops" }
rule "no-pty" {
  endpoint  = ssh.box
  condition = "ssh.verb == 'pty'"
  verdict   = "deny"
  reason    = "no terminals"
}
rule "no-rm" {
  endpoint  = ssh.box
  condition = "ssh.verb == 'exec' && ssh.command.startsWith('rm ')"
  verdict   = "deny"
  reason    = "no rm"
}
rule "no-drop" {
  endpoint  = ssh.box
  condition = "ssh.stdin.contains('DROP')"
  verdict   = "deny"
  reason    = "no drop in stdin"
}
rule "deploy" {
  endpoint  = ssh.box
  condition = "ssh.command == 'deploy'"
  approve   = [human_approver.ops]
}
rule "no-db" {
  endpoint  = ssh.box
  condition = "ssh.verb == 'forward' && ssh.forward_port == 5432"
  verdict   = "deny"
  reason    = "no db tunnels"
}
profile "p" { credentials = [ssh_key.box_key] }
`;

/** A recording upstream: execs echo `out:<cmd>` then their stdin; forwards echo. */
class FakeUpstream {
  server!: InstanceType<typeof Server>;
  port = 0;
  connections = 0;
  execs: string[] = [];
  stdin = new Map<string, Buffer>();
  forwards: string[] = [];
  hostKey = utils.generateKeyPairSync("ed25519");
  clientKey = utils.generateKeyPairSync("ed25519");

  async start(): Promise<void> {
    const allowed = utils.parseKey(this.clientKey.public);
    if (allowed instanceof Error) throw allowed;
    this.server = new Server({ hostKeys: [this.hostKey.private] }, (c: Connection) => {
      this.connections++;
      c.on("error", () => {});
      c.on("authentication", (ctx: AuthContext) => {
        if (ctx.method === "publickey" && ctx.key.data.equals(allowed.getPublicSSH())) ctx.accept();
        else ctx.reject(["publickey"]);
      });
      c.on("session", (accept: () => Session) => {
        const s = accept();
        s.on("pty", (a: (() => void) | undefined) => a?.());
        s.on("exec", (a: () => ServerChannel, _r: unknown, info: { command: string }) => {
          this.execs.push(info.command);
          const ch = a();
          const got: Buffer[] = [];
          ch.on("data", (d: Buffer) => got.push(d));
          ch.on("end", () => {
            const input = Buffer.concat(got);
            this.stdin.set(info.command, input);
            ch.write(`out:${info.command}\n`);
            ch.write(input);
            ch.stderr.write("err-line\n");
            ch.exit(info.command === "fail" ? 3 : 0);
            ch.end();
          });
        });
      });
      c.on("tcpip", (accept: () => ServerChannel, _r: unknown, info: { destIP: string; destPort: number }) => {
        this.forwards.push(`${info.destIP}:${info.destPort}`);
        const ch = accept();
        ch.pipe(ch);
      });
    });
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    this.port = (this.server.address() as { port: number }).port;
  }

  reset(): void {
    this.connections = 0;
    this.execs = [];
    this.stdin.clear();
    this.forwards = [];
  }
}

interface Ran {
  out: string;
  err: string;
  code: unknown;
}

function exec(c: InstanceType<typeof Client>, cmd: string, stdin?: string | null, opts: { pty?: boolean } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    c.exec(cmd, opts.pty ? { pty: true } : {}, (err: Error | undefined, ch: ClientChannel) => {
      if (err) return reject(err);
      let out = "";
      let errOut = "";
      let code: unknown;
      ch.on("data", (d: Buffer) => (out += d.toString()));
      ch.stderr.on("data", (d: Buffer) => (errOut += d.toString()));
      ch.on("exit", (x: unknown) => (code = x));
      ch.on("close", () => resolve({ out, err: errOut, code }));
      if (stdin !== null) ch.end(stdin ?? undefined);
    });
  });
}

describe("ssh interceptor (in-process fakes)", () => {
  const upstream = new FakeUpstream();
  let policy: CompiledPolicy;
  let listener: NetServer;
  let port = 0;
  let interceptor: SshInterceptor;
  let rows: NewAction[] = [];
  let approvals: { calls: number; outcome: () => Promise<ApprovalOutcome> };
  const secrets = new Map<string, string>();
  const log = memoryLog();
  const limits = { stdinBuffer: 64, stdinIdleMs: 150, stdinTotalMs: 2_000 };

  before(async () => {
    await upstream.start();
    policy = policyOf(HCL);
    approvals = { calls: 0, outcome: async () => ({ verdict: "deny", reason: "nobody approved", decisions: [] }) };
    const deps: SshInterceptDeps = {
      policy: () => policy,
      resolve: async () => "127.0.0.1",
      hostKey: () => ({ privateKey: upstream.hostKey.private, publicKey: "", fingerprint: "" }),
      upstreamAuth: () => {
        const privateKey = secrets.get("key");
        const hostPubkey = secrets.get("pin");
        return privateKey ? { ok: true, auth: { privateKey, ...(hostPubkey ? { hostPubkey } : {}) } } : { ok: false, error: 'secret slot "secret" missing' };
      },
      approvals: {
        run: async () => {
          approvals.calls++;
          return approvals.outcome();
        },
      },
      audit: (r) => void rows.push(r),
      log,
      now: () => new Date(),
      limits,
    };
    interceptor = new SshInterceptor(deps);
    const endpoint = policy.endpoints.get("box")!;
    let n = 0;
    listener = createServer((sock) => {
      const flow: Flow = { id: `f${++n}`, stream: sock, destination: { host: "box.test", port: 22 }, device: "dev1", profile: "p", transport: "forward" };
      sock.pause();
      interceptor.intercept(flow, endpoint, undefined, { kind: "intercept", endpoint, claimedBy: "destination", upstream: { host: "box.test", port: upstream.port } });
    });
    listener.listen(0, "127.0.0.1");
    await once(listener, "listening");
    port = (listener.address() as { port: number }).port;
  });

  after(async () => {
    await interceptor.close();
    listener.close();
    upstream.server.close();
  });

  beforeEach(() => {
    upstream.reset();
    rows = [];
    secrets.set("key", upstream.clientKey.private);
    secrets.delete("pin");
    approvals.calls = 0;
  });

  async function agent(): Promise<InstanceType<typeof Client>> {
    const c = new Client();
    c.on("error", () => {});
    c.connect({ host: "127.0.0.1", port, username: "alice", hostVerifier: () => true, readyTimeout: 5_000 });
    await once(c, "ready");
    return c;
  }
  const waitRows = async (n: number) => {
    const deadline = Date.now() + 3_000;
    while (rows.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return rows;
  };

  it("relays an allowed exec: stdout, stderr, stdin and the exit status; one audit row", async () => {
    const c = await agent();
    const r = await exec(c, "fail", "input-bytes");
    assert.equal(r.out, "out:fail\ninput-bytes");
    assert.equal(r.err, "err-line\n");
    assert.equal(r.code, 3);
    assert.deepEqual(upstream.execs, ["fail"]);
    const [row] = await waitRows(1);
    assert.equal(row!.verdict, "allow");
    assert.equal(row!.credential, "box_key");
    assert.equal(row!.status, 3);
    assert.equal(row!.bytesIn, "input-bytes".length);
    assert.equal(row!.bytesOut, "out:fail\ninput-bytes".length + "err-line\n".length);
    assert.equal((row!.facets?.["ssh"] as { user: string }).user, "alice");
    c.end();
  });

  it("a denied exec never reaches the upstream (not even a connection); the agent reads the reason", async () => {
    const c = await agent();
    const r = await exec(c, "rm -rf /srv");
    assert.equal(r.code, 126);
    assert.match(r.err, /exec denied: no rm/);
    assert.equal(upstream.connections, 0);
    assert.deepEqual(upstream.execs, []);
    const [row] = await waitRows(1);
    assert.equal(row!.verdict, "deny");
    assert.equal(row!.rule, "no-rm");
    c.end();
  });

  it("stdin pre-gate: a denied script is withheld; an allowed one arrives intact", async () => {
    const c = await agent();
    const bad = await exec(c, "sh", "echo hi\nDROP TABLE x\n");
    assert.equal(bad.code, 126);
    assert.match(bad.err, /no drop in stdin/);
    assert.deepEqual(upstream.execs, []);
    const good = await exec(c, "sh", "echo fine\n");
    assert.equal(good.code, 0);
    assert.equal(upstream.stdin.get("sh")?.toString(), "echo fine\n");
    c.end();
  });

  it("stdin pre-gate fails closed: overflow and a stdin that never ends are truncated ⇒ denied", async () => {
    const c = await agent();
    const big = await exec(c, "sh", "x".repeat(200));
    assert.equal(big.code, 126);
    assert.match(big.err, /could not be evaluated .*truncated/);
    const open = await exec(c, "sh", null);
    assert.equal(open.code, 126);
    assert.deepEqual(upstream.execs, []);
    const rowsNow = await waitRows(2);
    assert.ok(rowsNow.every((r) => r.flags?.includes("fail_closed") && r.flags.includes("facets_unknown")));
    c.end();
  });

  it("pty sessions are never buffered: a denied pty refuses its channel; the connection keeps working", async () => {
    const c = await agent();
    const r = await exec(c, "ls", null, { pty: true });
    assert.equal(r.code, 126);
    assert.match(r.err, /terminal \(pty\) denied: no terminals/);
    assert.deepEqual(upstream.execs, []);
    const ok = await exec(c, "ls", "");
    assert.equal(ok.code, 0);
    assert.deepEqual(upstream.execs, ["ls"]);
    const all = await waitRows(3);
    assert.deepEqual(all.map((x) => [(x.facets?.["ssh"] as { verb: string }).verb, x.verdict]).sort(), [["exec", "allow"], ["exec", "deny"], ["pty", "deny"]]);
    c.end();
  });

  it("approve: the chain runs; its deny (or failure) refuses, its allow runs", async () => {
    const c = await agent();
    const denied = await exec(c, "deploy", "");
    assert.equal(denied.code, 126);
    assert.match(denied.err, /nobody approved/);
    approvals.outcome = async () => {
      throw new Error("approver crashed");
    };
    const crashed = await exec(c, "deploy", "");
    assert.equal(crashed.code, 126);
    assert.deepEqual(upstream.execs, []);
    approvals.outcome = async () => ({ verdict: "allow", reason: "", decisions: [{ stage: "ops", verdict: "allow", by: "op", at: 1 }] });
    const ok = await exec(c, "deploy", "");
    assert.equal(ok.code, 0);
    assert.equal(approvals.calls, 3);
    assert.deepEqual(upstream.execs, ["deploy"]);
    c.end();
  });

  it("forwards: a denied target fails to open with the reason; another forward on the connection works", async () => {
    const c = await agent();
    const denied = await new Promise<Error | undefined>((resolve) => c.forwardOut("127.0.0.1", 1, "db.internal", 5432, (err) => resolve(err)));
    assert.match(String(denied?.message), /denied: no db tunnels/);
    const echoed = await new Promise<string>((resolve, reject) =>
      c.forwardOut("127.0.0.1", 1, "svc.internal", 8080, (err, ch) => {
        if (err) return reject(err);
        let s = "";
        ch.on("data", (d: Buffer) => {
          s += d.toString();
          if (s === "ping") ch.end();
        });
        ch.on("close", () => resolve(s));
        ch.write("ping");
      }),
    );
    assert.equal(echoed, "ping");
    assert.deepEqual(upstream.forwards, ["svc.internal:8080"]);
    c.end();
  });

  it("a pinned host key that does not match is refused, with the reason audited", async () => {
    secrets.set("pin", `box.test ${utils.generateKeyPairSync("ed25519").public}`);
    const c = await agent();
    const r = await exec(c, "ls", "");
    assert.equal(r.code, 126);
    assert.match(r.err, /not the pinned SHA256:/);
    await waitRows(1);
    const row = rows.find((x) => x.flags?.includes("hostkey_mismatch"));
    assert.equal(row?.verdict, "error");
    assert.match(row!.reason ?? "", /presented host key SHA256:/);
    // The matching pin is accepted.
    const real = utils.parseKey(upstream.hostKey.public);
    if (real instanceof Error) throw real;
    secrets.set("pin", `[box.test]:22 ssh-ed25519 ${real.getPublicSSH().toString("base64")}`);
    const ok = await exec(c, "ls", "");
    assert.equal(ok.code, 0);
    assert.ok(log.lines.some((l) => l.includes(fingerprintOf(real.getPublicSSH()))));
    c.end();
  });

  it("a credential without its secret refuses the channel and never leaks anything", async () => {
    secrets.delete("key");
    const c = await agent();
    const r = await exec(c, "ls", "");
    assert.equal(r.code, 126);
    assert.match(r.err, /credential "box_key" unusable/);
    c.end();
  });

  it("hostile bytes close the flow without hurting the gateway", async () => {
    for (const junk of [Buffer.from("GET / HTTP/1.1\r\n\r\n"), Buffer.from("SSH-2.0-x\r\n\0\0\0\xff\xff garbage".repeat(50), "latin1")]) {
      const s = connect({ host: "127.0.0.1", port });
      s.on("error", () => {});
      s.on("data", () => {});
      await once(s, "connect");
      s.end(junk);
      await once(s, "close");
    }
    const c = await agent();
    assert.equal((await exec(c, "ls", "")).code, 0);
    c.end();
  });
});
