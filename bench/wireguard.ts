/**
 * WireGuard transport benchmark (`npm run bench`): what the tunnel adds —
 * wireguard-go client → the gateway's userspace WireGuard + netstack →
 * relayed flow → server — against the same client talking to the same
 * server over direct loopback, measured in the same run.
 *
 * Setup: the gateway runs in this process (`gateway { wireguard {} }`, a
 * profile with no endpoints, so every flow to the host's address is an
 * unlisted host: relayed); a device enrolled with `clawpatrol join` +
 * approval through the API; the namespace `clawpatrol run` builds for it
 * (test/wireguard-kit.ts: wireguard-go in the root namespace, its TUN in a
 * fresh namespace) kept open. Servers (a discard sink, an echo server) run
 * in a separate node process so their sockets and CPU are not the
 * gateway's; clients are python3 scripts, inside the namespace (tunnel) or
 * in the root namespace to 127.0.0.1 (direct).
 *
 * - single-flow throughput: 200 MB upload to the sink (target ≥ 300 Mbit/s
 *   through the tunnel); `--detail` adds the download direction;
 * - request/response: 2,000 1-byte ping-pongs over one TCP connection
 *   (TCP_NODELAY), p50/p99; added p50 (target ≤ 0.5 ms);
 * - memory: 1,000 idle flows (connected, one byte echoed, then held) —
 *   the gateway process's heapUsed + external delta after a GC, per flow
 *   (target ≤ 20 KiB). That includes the gateway's upstream socket per flow.
 *
 * Needs root, ip, wg, wireguard-go, /dev/net/tun, python3; skipped otherwise.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { enrollDevice, gcNow, hostAddress, openTunnel, startWgGateway, wgE2eUnavailable, type Tunnel } from "../test/wireguard-kit.js";

const UPLOAD_BYTES = 200 * 1_000_000;
const ROUND_TRIPS = 2000;
const IDLE_FLOWS = 1000;
const TARGET_MBITS = 300;
const TARGET_ADDED_P50_MS = 0.5;
const TARGET_KIB_PER_FLOW = 20;

/** The servers, in their own node process: a discard sink (answers the byte count on EOF), an echo server, a source. */
const SERVERS_JS = `
const net = require("net");
const sink = net.createServer((s) => { let n = 0; s.on("data", (d) => (n += d.length)); s.on("end", () => s.end(String(n))); s.on("error", () => {}); });
const echo = net.createServer((s) => { s.setNoDelay(true); s.on("error", () => {}); s.pipe(s); });
const chunk = Buffer.alloc(1 << 20, 7);
const source = net.createServer((s) => {
  s.on("error", () => {});
  s.once("data", (d) => {
    let left = Number(d.toString());
    const pump = () => { while (left > 0) { const b = left >= chunk.length ? chunk : chunk.subarray(0, left); left -= b.length; if (!s.write(b)) return void s.once("drain", pump); } s.end(); };
    pump();
  });
});
let up = 0;
for (const srv of [sink, echo, source]) srv.listen(0, "0.0.0.0", () => { if (++up === 3) console.log(JSON.stringify({ sink: sink.address().port, echo: echo.address().port, source: source.address().port })); });
`;

const PY_UPLOAD = `
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
n = int(sys.argv[3]); b = b"\\x07" * (1 << 20); sent = 0
t = time.perf_counter()
while sent < n:
    k = min(len(b), n - sent)
    s.sendall(b[:k] if k < len(b) else b); sent += k
s.shutdown(socket.SHUT_WR)
r = b""
while True:
    d = s.recv(64)
    if not d: break
    r += d
print(time.perf_counter() - t, r.decode())
`;

const PY_DOWNLOAD = `
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
t = time.perf_counter()
s.sendall(sys.argv[3].encode())
n = 0
while True:
    d = s.recv(1 << 18)
    if not d: break
    n += len(d)
print(time.perf_counter() - t, n)
`;

const PY_PINGPONG = `
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
n = int(sys.argv[3]); xs = []
for i in range(n + 200):
    t = time.perf_counter_ns()
    s.sendall(b"x")
    if len(s.recv(1)) != 1: raise SystemExit("eof")
    if i >= 200: xs.append(time.perf_counter_ns() - t)
xs.sort()
print(xs[len(xs) // 2] / 1e6, xs[int(len(xs) * 0.99)] / 1e6, xs[0] / 1e6, xs[-1] / 1e6)
`;

const PY_IDLE = `
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
n = int(sys.argv[3]); socks = []
for i in range(n):
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
    s.sendall(b"x")
    if s.recv(1) != b"x": raise SystemExit("no echo")
    socks.append(s)
print("ready", len(socks), flush=True)
sys.stdin.read()
`;

interface Out {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** python3 in the root namespace (the direct path). */
function direct(args: string[], timeoutMs = 120_000): Promise<Out> {
  return new Promise((resolve) => {
    const c = spawn("python3", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const t = setTimeout(() => c.kill("SIGKILL"), timeoutMs);
    c.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    c.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

function check(what: string, r: Out): string[] {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim().split(/\s+/);
}

const memNow = () => {
  gcNow();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};
const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runWireguardBench(detail: boolean): Promise<void> {
  console.log("\n== wireguard: wireguard-go → userspace WireGuard + netstack → relayed flow vs direct loopback ==");
  const why = wgE2eUnavailable(["python3"]) ?? (hostAddress() === undefined ? "no non-loopback IPv4 address" : null);
  if (why) {
    console.log(`skipped: ${why}`);
    return;
  }
  const ip = hostAddress()!;
  const dir = mkdtempSync(join(tmpdir(), "cp-wg-bench-"));
  let servers: ChildProcess | undefined;
  let tunnel: Tunnel | undefined;
  const g = await startWgGateway({ dir, body: `profile "bench" { credentials = [] }\n`, logLevel: "warn" });
  try {
    const dev = await enrollDevice({ base: g.base, token: g.token, configDir: join(dir, "device"), name: "bench-box", profile: "bench" });
    tunnel = await openTunnel(dev.dir);
    const t = tunnel;
    const ports = await new Promise<{ sink: number; echo: number; source: number }>((resolve, reject) => {
      const c = spawn(process.execPath, ["-e", SERVERS_JS], { stdio: ["ignore", "pipe", "inherit"] });
      servers = c;
      c.stdout!.once("data", (d: Buffer) => resolve(JSON.parse(d.toString()) as { sink: number; echo: number; source: number }));
      c.once("exit", (code) => reject(new Error(`servers exited (${code})`)));
    });
    const inNs = async (args: string[], timeoutMs = 120_000) => t.exec("python3", args, { timeoutMs });

    // --- throughput -------------------------------------------------------
    const up = async (via: "tunnel" | "direct") => {
      const args = ["-c", PY_UPLOAD, via === "tunnel" ? ip : "127.0.0.1", String(ports.sink), String(UPLOAD_BYTES)];
      const [secs, got] = check(`upload (${via})`, via === "tunnel" ? await inNs(args) : await direct(args));
      if (Number(got) !== UPLOAD_BYTES) throw new Error(`upload (${via}): sink got ${got} bytes`);
      return (UPLOAD_BYTES * 8) / Number(secs) / 1e6;
    };
    const warm = await up("tunnel"); // warm-up (JIT, first-flow costs)
    const tunMbit = await up("tunnel");
    if (detail) console.log(`  warm-up upload through the tunnel: ${warm.toFixed(0)} Mbit/s`);
    const dirMbit = await up("direct");
    console.log(
      `single flow, ${UPLOAD_BYTES / 1e6} MB upload:  tunnel ${tunMbit.toFixed(0)} Mbit/s   direct ${dirMbit.toFixed(0)} Mbit/s   ratio ${(tunMbit / dirMbit).toFixed(3)}   target ≥ ${TARGET_MBITS} Mbit/s: ${verdict(tunMbit >= TARGET_MBITS)}`,
    );
    if (detail) {
      const down = async (via: "tunnel" | "direct") => {
        const args = ["-c", PY_DOWNLOAD, via === "tunnel" ? ip : "127.0.0.1", String(ports.source), String(UPLOAD_BYTES)];
        const [secs, got] = check(`download (${via})`, via === "tunnel" ? await inNs(args) : await direct(args));
        if (Number(got) !== UPLOAD_BYTES) throw new Error(`download (${via}): got ${got} bytes`);
        return (UPLOAD_BYTES * 8) / Number(secs) / 1e6;
      };
      const [dt, dd] = [await down("tunnel"), await down("direct")];
      console.log(`  download: tunnel ${dt.toFixed(0)} Mbit/s   direct ${dd.toFixed(0)} Mbit/s   ratio ${(dt / dd).toFixed(3)}`);
    }

    // --- request/response ---------------------------------------------------
    const rtt = async (via: "tunnel" | "direct") => {
      const args = ["-c", PY_PINGPONG, via === "tunnel" ? ip : "127.0.0.1", String(ports.echo), String(ROUND_TRIPS)];
      const [p50, p99, min, max] = check(`ping-pong (${via})`, via === "tunnel" ? await inNs(args) : await direct(args)).map(Number);
      return { p50: p50!, p99: p99!, min: min!, max: max! };
    };
    const rt = await rtt("tunnel");
    const rd = await rtt("direct");
    const added = rt.p50 - rd.p50;
    console.log(
      `1-byte round trip × ${ROUND_TRIPS}:  tunnel p50 ${rt.p50.toFixed(3)} ms p99 ${rt.p99.toFixed(3)} ms   direct p50 ${rd.p50.toFixed(3)} ms p99 ${rd.p99.toFixed(3)} ms   added p50 ${added.toFixed(3)} ms   target ≤ ${TARGET_ADDED_P50_MS} ms: ${verdict(added <= TARGET_ADDED_P50_MS)}`,
    );
    if (detail) console.log(`  min/max: tunnel ${rt.min.toFixed(3)}/${rt.max.toFixed(3)} ms   direct ${rd.min.toFixed(3)}/${rd.max.toFixed(3)} ms`);

    // --- idle flows ----------------------------------------------------------
    await sleep(300);
    const before = memNow();
    let holder: ChildProcess | undefined;
    const ready = new Promise<void>((resolve) => {
      void t
        .exec("python3", ["-c", PY_IDLE, ip, String(ports.echo), String(IDLE_FLOWS)], {
          timeoutMs: 120_000,
          onStart: (c) => (holder = c),
          onStdout: (s) => {
            if (s.includes("ready")) resolve();
          },
        })
        .then((r) => {
          if (!r.stdout.includes("ready")) console.log(`idle flows: client failed: ${r.stderr.trim()}`);
          resolve();
        });
    });
    const t0 = performance.now();
    await ready;
    const openMs = performance.now() - t0;
    await sleep(500);
    const held = memNow();
    const perFlowKiB = (held - before) / IDLE_FLOWS / 1024;
    const m = process.memoryUsage();
    console.log(
      `${IDLE_FLOWS} idle flows: gateway heap+external +${((held - before) / 1048576).toFixed(1)} MiB = ${perFlowKiB.toFixed(1)} KiB/flow   target ≤ ${TARGET_KIB_PER_FLOW} KiB: ${verdict(perFlowKiB <= TARGET_KIB_PER_FLOW)}`,
    );
    if (detail) console.log(`  opened in ${openMs.toFixed(0)} ms; heapUsed ${(m.heapUsed / 1048576).toFixed(1)} MiB, external ${(m.external / 1048576).toFixed(1)} MiB, rss ${(m.rss / 1048576).toFixed(1)} MiB; transport flows ${g.gw.wireguard?.stats.flows}`);
    holder?.stdin?.end();
  } finally {
    await tunnel?.close();
    servers?.kill();
    await g.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
