/**
 * Shared fixtures for the TLS tests: an in-memory CA store, a TLS connect
 * that reports the outcome instead of throwing, a raw listener that captures
 * a real client's first bytes, a client-certificate minter, and the
 * `openssl` CLI probe.
 */
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { createServer, isIP, type AddressInfo, type Server } from "node:net";
import { connect, type ConnectionOptions, type DetailedPeerCertificate } from "node:tls";
import type { webcrypto } from "node:crypto";
import type { CaStore, GatewayCa } from "./ca.js";
import { EC_ALG, pkcs8Pem, randomSerial, subtle, x509 } from "./x509.js";

/** The settings-table contract, in memory; counts writes to prove races happened. */
export class MemoryStore implements CaStore {
  readonly map = new Map<string, string>();
  setCalls = 0;
  get(key: string): string | undefined {
    return this.map.get(key);
  }
  setIfAbsent(key: string, value: string): string {
    this.setCalls++;
    const have = this.map.get(key);
    if (have !== undefined) return have;
    this.map.set(key, value);
    return value;
  }
}

export type TlsOutcome =
  | { ok: true; authorized: boolean; alpn: string | false; peer: DetailedPeerCertificate; data: string }
  | { ok: false; error: Error & { code?: string } };

/**
 * Connects with `opts`, waits for the handshake (and for `readUntil` bytes
 * of data if given), then closes. Never rejects: failures are outcomes.
 */
export function tryTls(opts: ConnectionOptions, readUntil?: string, timeoutMs = 5000): Promise<TlsOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    let data = "";
    const sock = connect(opts);
    const finish = (o: TlsOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ ok: false, error: new Error("timeout") }), timeoutMs);
    const success = (): void =>
      finish({ ok: true, authorized: sock.authorized, alpn: sock.alpnProtocol ?? false, peer: sock.getPeerCertificate(true), data });
    sock.on("secureConnect", () => {
      if (readUntil === undefined) success();
    });
    sock.on("data", (d: Buffer) => {
      data += d.toString("utf8");
      if (readUntil !== undefined && data.includes(readUntil)) success();
    });
    sock.on("error", (error) => finish({ ok: false, error }));
    sock.on("close", () => finish({ ok: false, error: new Error(`closed before expected data (got ${JSON.stringify(data)})`) }));
  });
}

/** Listens on an OS-chosen loopback port. */
export async function listen(server: Server, host = "127.0.0.1"): Promise<number> {
  server.listen(0, host);
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Captures the first TLS record a real `tls.connect` client sends (its
 * ClientHello), using only the record header's length — independent of the
 * parser under test.
 */
export async function captureClientHello(opts: ConnectionOptions): Promise<Buffer> {
  let resolveHello!: (b: Buffer) => void;
  let rejectHello!: (e: Error) => void;
  const hello = new Promise<Buffer>((res, rej) => {
    resolveHello = res;
    rejectHello = rej;
  });
  const server = createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
        resolveHello(buf.subarray(0, 5 + buf.readUInt16BE(3)));
        sock.destroy();
      }
    });
    sock.on("error", () => {});
  });
  const port = await listen(server);
  const client = connect({ host: "127.0.0.1", port, ...opts });
  client.on("error", () => {});
  const timer = setTimeout(() => rejectHello(new Error("no ClientHello captured")), 5000);
  try {
    return await hello;
  } finally {
    clearTimeout(timer);
    client.destroy();
    await close(server);
  }
}

/**
 * Mints a test certificate signed by `ca`, returning its PEM and key: a
 * client certificate (extKeyUsage clientAuth) for mTLS, or a server one with
 * a SAN for upstream servers. Separate from LeafCache so upstream tests do
 * not rely on the code they sit beside.
 */
export async function mintTestCert(
  ca: GatewayCa,
  cn: string,
  use: "client" | "server",
): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await subtle.generateKey(EC_ALG, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const isIp = isIP(cn) !== 0;
  const extensions: x509.Extension[] = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([use === "client" ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth]),
    new x509.AuthorityKeyIdentifierExtension(ca.subjectKeyId),
  ];
  if (use === "server") extensions.push(new x509.SubjectAlternativeNameExtension([{ type: isIp ? "ip" : "dns", value: cn }]));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [cn] }],
    issuer: ca.certificate.subjectName,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 86400_000),
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    signingAlgorithm: EC_ALG,
    extensions,
  });
  return { certPem: cert.toString("pem"), keyPem: pkcs8Pem(await subtle.exportKey("pkcs8", keys.privateKey)) };
}

/**
 * Whether the `openssl` CLI can run. Missing is a skip locally but a failure
 * in CI (`process.env.CI` set), where the suite's dependencies must exist.
 */
export function opensslSkip(): string | false {
  const r = spawnSync("openssl", ["version"], { encoding: "utf8" });
  if (r.status === 0) return false;
  if (process.env.CI) throw new Error("openssl CLI is required in CI but cannot run");
  return "openssl CLI not available";
}

/** Runs `openssl` with `args`; returns status and combined output. */
export function openssl(args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync("openssl", args, { encoding: "utf8", input });
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}
