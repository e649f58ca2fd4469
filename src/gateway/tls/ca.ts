/**
 * The gateway's certificate authority: the root the agents trust so that the
 * gateway can terminate their HTTPS with leaves it mints per server name.
 *
 * Minted lazily on the first boot and kept in the state database as one PEM
 * bundle (certificate + PKCS#8 key) under one settings key, written with
 * set-if-absent: two gateways booting on one fresh database both mint, one
 * write wins, and both then serve the winner — a CA is never half-replaced
 * (certificate from one, key from the other). An existing CA is never
 * overwritten; a corrupt or expired one is an error for the operator, not a
 * silent re-mint that would break every agent's trust.
 */
import { X509Certificate as NodeX509, createPrivateKey, randomBytes } from "node:crypto";
import type { webcrypto } from "node:crypto";
import { EC_ALG, pkcs8Pem, randomSerial, subtle, x509 } from "./x509.js";

/**
 * Where the CA lives: the settings repository of the state database
 * implements exactly this. `setIfAbsent` stores `value` only if `key` has
 * no value yet and returns whatever is stored afterwards (ours or the
 * winner's) — that is what makes concurrent first boots converge.
 */
export interface CaStore {
  get(key: string): string | undefined;
  setIfAbsent(key: string, value: string): string;
}

/** Knobs for tests and for gateways that share one database under different keys. */
export interface CaOptions {
  /** Settings key of the PEM bundle. Default {@link DEFAULT_CA_KEY}. */
  key?: string;
  /** Clock, for tests. */
  now?: () => Date;
}

/** Settings key the CA bundle is stored under by default. */
export const DEFAULT_CA_KEY = "tls.ca";

/** CN prefix; a random suffix tells two gateways' CAs apart in a trust store. */
export const CA_COMMON_NAME = "Claw Patrol CA";

const CA_VALIDITY_YEARS = 10;
/** Back-dating, so agents whose clocks run a little slow still accept it. */
const BACKDATE_MS = 60 * 60 * 1000;

/**
 * A loaded CA. The private key is held only as a non-extractable WebCrypto
 * key: nothing outside this module can read it back out, so it cannot leak
 * into logs, API responses or the agent side.
 */
export interface GatewayCa {
  /** The CA certificate, PEM — what `/ca.crt` serves and agents trust. */
  readonly certPem: string;
  /** SHA-256 of the DER, `AB:CD:...` as `openssl x509 -fingerprint -sha256` prints it. */
  readonly fingerprint256: string;
  /** Subject, e.g. `CN=Claw Patrol CA 1a2b3c4d, O=Claw Patrol`. */
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Parsed certificate: leaves copy its subject name as their issuer. */
  readonly certificate: x509.X509Certificate;
  /** Subject key identifier (hex): leaves carry it as authority key identifier. */
  readonly subjectKeyId: string;
  /** Signs leaves. Non-extractable. */
  readonly signingKey: webcrypto.CryptoKey;
}

/** A stored CA that cannot be used (corrupt, mismatched, expired). */
export class CaError extends Error {
  override name = "CaError";
}

/**
 * Returns the gateway CA from `store`, minting and storing one first if there
 * is none. Safe to call concurrently, from one process or several sharing
 * the store: every caller ends up with the same CA.
 */
export async function loadOrCreateCa(store: CaStore, opts: CaOptions = {}): Promise<GatewayCa> {
  const key = opts.key ?? DEFAULT_CA_KEY;
  const now = opts.now ?? (() => new Date());
  let bundle = store.get(key);
  if (bundle === undefined) {
    const minted = await mintCaBundle(now());
    bundle = store.setIfAbsent(key, minted);
  }
  return parseCaBundle(bundle, now());
}

/** Mints a fresh CA and returns it as a PEM bundle (certificate, then key). */
async function mintCaBundle(now: Date): Promise<string> {
  const keys = (await subtle.generateKey(EC_ALG, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const notAfter = new Date(now.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
  const suffix = randomBytes(4).toString("hex");
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [`${CA_COMMON_NAME} ${suffix}`] }, { O: ["Claw Patrol"] }],
    notBefore,
    notAfter,
    keys: keys,
    signingAlgorithm: EC_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyDer = await subtle.exportKey("pkcs8", keys.privateKey);
  return `${cert.toString("pem")}\n${pkcs8Pem(keyDer)}\n`;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g;

/** Parses and checks a stored bundle; errors never quote the key material. */
async function parseCaBundle(bundle: string, now: Date): Promise<GatewayCa> {
  const certs: string[] = [];
  const keys: string[] = [];
  for (const m of bundle.matchAll(PEM_BLOCK)) {
    if (m[1] === "CERTIFICATE") certs.push(m[0]);
    else if (m[1] === "PRIVATE KEY") keys.push(m[0]);
  }
  if (certs.length !== 1 || keys.length !== 1) {
    throw new CaError(
      `stored CA is not one certificate and one PKCS#8 private key (found ${certs.length} and ${keys.length})`,
    );
  }
  const certPem = `${certs[0]}\n`;
  const keyPem = `${keys[0]}\n`;

  let node: NodeX509;
  try {
    node = new NodeX509(certPem);
  } catch (e) {
    throw new CaError(`stored CA certificate does not parse: ${(e as Error).message}`);
  }
  if (!node.ca) throw new CaError("stored CA certificate is not a CA (basicConstraints CA:FALSE)");
  let keyObject;
  try {
    keyObject = createPrivateKey(keyPem);
  } catch {
    throw new CaError("stored CA private key does not parse");
  }
  if (keyObject.asymmetricKeyType !== "ec" || keyObject.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new CaError("stored CA private key is not ECDSA P-256");
  }
  if (!node.checkPrivateKey(keyObject)) {
    throw new CaError("stored CA private key does not match its certificate");
  }
  const notBefore = new Date(node.validFrom);
  const notAfter = new Date(node.validTo);
  if (!(notAfter.getTime() > now.getTime())) {
    throw new CaError(`stored CA expired on ${notAfter.toISOString()}; remove it to mint a new one (agents must re-trust)`);
  }

  const certificate = new x509.X509Certificate(certPem);
  const ski = certificate.getExtension(x509.SubjectKeyIdentifierExtension);
  if (!ski) throw new CaError("stored CA certificate has no subject key identifier");
  const signingKey = await subtle.importKey(
    "pkcs8",
    keyObject.export({ type: "pkcs8", format: "der" }),
    { name: EC_ALG.name, namedCurve: EC_ALG.namedCurve },
    false,
    ["sign"],
  );
  return {
    certPem,
    fingerprint256: node.fingerprint256,
    subject: certificate.subject,
    notBefore,
    notAfter,
    certificate,
    subjectKeyId: ski.keyId,
    signingKey,
  };
}
