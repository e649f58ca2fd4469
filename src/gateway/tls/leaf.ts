/**
 * Leaf certificates toward the agent: one per server name, signed by the
 * gateway CA, cached so that only the first connection to a name pays the
 * mint (a few ms of ECDSA and ASN.1 work) and every later handshake reuses
 * the same `tls.SecureContext`.
 */
import { isIPv4, isIPv6 } from "node:net";
import { createSecureContext, type SecureContext } from "node:tls";
import { generateKeyPair } from "node:crypto";
import { promisify } from "node:util";
import type { GatewayCa } from "./ca.js";
import { EC_ALG, randomSerial, x509 } from "./x509.js";

const generateKeyPairAsync = promisify(generateKeyPair);

/** A name a leaf was minted for: a DNS name, or an IP literal (SAN type iPAddress). */
export interface ServerName {
  /** Canonical form: lower case, no trailing dot; IPv6 compressed, no brackets. */
  name: string;
  kind: "dns" | "ip";
}

/** A minted leaf. The private key exists only inside `context`. */
export interface Leaf extends ServerName {
  certPem: string;
  /** Leaf + CA chain and key, ready for `SNICallback` or `new TLSSocket({ secureContext })`. */
  context: SecureContext;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** When the cache stops handing this leaf out and mints a new one. */
  renewAt: Date;
  /** Wall time the mint took, ms. */
  mintMs: number;
}

/** Structured log sink (the gateway's logger adapts to it). */
export type TlsLog = (msg: string, fields: Record<string, unknown>) => void;

/** Defaults suit a gateway; tests shrink capacity and drive the clock. */
export interface LeafCacheOptions {
  /** Names kept (least recently used evicted first). Default 1,000. */
  capacity?: number;
  /** Leaf lifetime in days (capped by the CA's own expiry). Default 30. */
  validityDays?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
  log?: TlsLog;
}

/** The name is not a host name or IP literal we will mint for. */
export class InvalidServerNameError extends Error {
  override name = "InvalidServerNameError";
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Back-dating covers agents whose clocks run behind the gateway's. */
const BACKDATE_MS = 60 * 60 * 1000;
/** Re-mint once this fraction of the leaf's remaining lifetime at mint has passed. */
const RENEW_FRACTION = 0.75;
/** X.520 upper bound on commonName; longer names go in the SAN only. */
const CN_MAX = 64;

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * Validates and canonicalises a server name (SNI, or a destination address
 * when the agent sent none). Host names: LDH labels (underscore tolerated,
 * as real hosts use it), ≤ 253 characters, last label not all digits (that
 * would be an IPv4 shorthand, not a name). IPs: dotted-quad IPv4, or IPv6
 * with optional brackets and without a zone. No wildcards, no non-ASCII
 * (SNI carries A-labels). Returns undefined for anything else.
 */
export function normalizeServerName(raw: string): ServerName | undefined {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > 255) return undefined;
  let s = raw;
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  if (isIPv4(s)) return { name: s, kind: "ip" };
  if (s.includes(":")) {
    if (s.includes("%") || !isIPv6(s)) return undefined;
    try {
      // The URL parser prints IPv6 in RFC 5952 canonical form.
      const host = new URL(`http://[${s}]/`).hostname;
      return { name: host.slice(1, -1), kind: "ip" };
    } catch {
      return undefined;
    }
  }
  s = s.toLowerCase();
  if (s.endsWith(".")) s = s.slice(0, -1);
  if (s.length === 0 || s.length > 253) return undefined;
  const labels = s.split(".");
  for (const label of labels) if (!LABEL.test(label)) return undefined;
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? "")) return undefined;
  return { name: s, kind: "dns" };
}

/**
 * A bounded LRU of leaves keyed by canonical server name. Concurrent
 * requests for one name share a single in-flight mint; a failed mint is not
 * cached. Leaves are re-minted well before they expire.
 */
export class LeafCache {
  private readonly leaves = new Map<string, Leaf>();
  private readonly inflight = new Map<string, Promise<Leaf>>();
  private readonly capacity: number;
  private readonly validityMs: number;
  private readonly now: () => number;
  private readonly log: TlsLog;
  /** Counters for metrics and tests. */
  readonly stats = { mints: 0, hits: 0, evictions: 0 };

  constructor(
    private readonly ca: GatewayCa,
    opts: LeafCacheOptions = {},
  ) {
    this.capacity = Math.max(1, Math.floor(opts.capacity ?? 1000));
    this.validityMs = (opts.validityDays ?? 30) * DAY_MS;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => {});
  }

  /** Number of cached leaves. */
  get size(): number {
    return this.leaves.size;
  }

  /**
   * The leaf for `serverName`, minting it if it is not cached (or due for
   * renewal). Rejects with {@link InvalidServerNameError} for garbage.
   */
  get(serverName: string): Promise<Leaf> {
    const sn = normalizeServerName(serverName);
    if (!sn) {
      return Promise.reject(new InvalidServerNameError(`not a valid server name: ${JSON.stringify(String(serverName).slice(0, 80))}`));
    }
    const cached = this.leaves.get(sn.name);
    if (cached && this.now() < cached.renewAt.getTime()) {
      this.leaves.delete(sn.name);
      this.leaves.set(sn.name, cached);
      this.stats.hits++;
      return Promise.resolve(cached);
    }
    const pending = this.inflight.get(sn.name);
    if (pending) return pending;
    const p = this.mint(sn)
      .then((leaf) => {
        this.leaves.delete(sn.name);
        this.leaves.set(sn.name, leaf);
        while (this.leaves.size > this.capacity) {
          const oldest = this.leaves.keys().next().value as string;
          this.leaves.delete(oldest);
          this.stats.evictions++;
        }
        return leaf;
      })
      .finally(() => this.inflight.delete(sn.name));
    this.inflight.set(sn.name, p);
    return p;
  }

  /** The `SecureContext` for `serverName` (see {@link get}). */
  async context(serverName: string): Promise<SecureContext> {
    return (await this.get(serverName)).context;
  }

  /**
   * For `tls.createServer` / `new TLSSocket({ isServer: true })`. Only called
   * when the agent sent SNI; a connection without SNI uses the socket's own
   * `secureContext`, which the dispatcher mints for the destination IP.
   */
  readonly sniCallback = (
    servername: string,
    cb: (err: Error | null, ctx?: SecureContext) => void,
  ): void => {
    this.context(servername).then(
      (ctx) => cb(null, ctx),
      (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
    );
  };

  private async mint(sn: ServerName): Promise<Leaf> {
    const t0 = performance.now();
    const nowMs = this.now();
    const notBefore = new Date(nowMs - BACKDATE_MS);
    const notAfter = new Date(Math.min(nowMs + this.validityMs, this.ca.notAfter.getTime()));
    if (notAfter.getTime() <= nowMs) throw new Error("gateway CA has expired; cannot mint leaf certificates");
    const renewAt = new Date(nowMs + (notAfter.getTime() - nowMs) * RENEW_FRACTION);

    // node:crypto hands back SPKI DER (for the certificate) and PKCS#8 PEM
    // (for the context) directly, cheaper than a WebCrypto key + export.
    const { publicKey, privateKey: keyPem } = await generateKeyPairAsync("ec", {
      namedCurve: "P-256",
      publicKeyEncoding: { type: "spki", format: "der" },
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
    });
    const serial = randomSerial();
    const short = sn.name.length <= CN_MAX;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      // RFC 5280: an empty subject requires a critical SAN.
      subject: short ? [{ CN: [sn.name] }] : [],
      issuer: this.ca.certificate.subjectName,
      notBefore,
      notAfter,
      publicKey: new Uint8Array(publicKey),
      signingKey: this.ca.signingKey,
      signingAlgorithm: EC_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension([{ type: sn.kind, value: sn.name }], !short),
        new x509.AuthorityKeyIdentifierExtension(this.ca.subjectKeyId, false),
      ],
    });
    const certPem = `${cert.toString("pem")}\n`;
    const context = createSecureContext({
      key: keyPem,
      cert: `${certPem}${this.ca.certPem}`,
      minVersion: "TLSv1.2",
    });
    const mintMs = performance.now() - t0;
    this.stats.mints++;
    this.log("tls leaf minted", { name: sn.name, kind: sn.kind, serial, ms: Math.round(mintMs * 100) / 100 });
    return { ...sn, certPem, context, serial, notBefore, notAfter, renewAt, mintMs };
  }
}
