/**
 * Client side of the password exchanges Postgres servers ask for: SCRAM-SHA-256
 * (RFC 5802 with SHA-256, RFC 7677), MD5 and cleartext. The gateway runs
 * them upstream with the credential's stored password, so the agent never
 * needs it.
 *
 * SCRAM is used without channel binding (gs2 header `n,,`); the server's
 * final signature is verified, so a server that does not know the password
 * (a spoofed upstream) is caught before any statement is sent.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

const pbkdf2Async = promisify(pbkdf2);

/** The mechanism this client speaks. */
export const SCRAM_SHA_256 = "SCRAM-SHA-256";

/**
 * Salted passwords by (password, salt, iterations): PBKDF2 at the usual 4096
 * iterations costs milliseconds, and a gateway reconnects with the same
 * credential often. Bounded; keys are hashes, never the password.
 */
const saltedCache = new Map<string, Buffer>();

async function saltedPassword(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  const key = createHash("sha256").update(password).update("\0").update(salt).update(`\0${iterations}`).digest("base64");
  const hit = saltedCache.get(key);
  if (hit) return hit;
  const v = await pbkdf2Async(normalizePassword(password), salt, iterations, 32, "sha256");
  if (saltedCache.size >= 256) saltedCache.delete(saltedCache.keys().next().value as string);
  saltedCache.set(key, v);
  return v;
}

/**
 * SASLprep, approximated as Postgres' own client does when a password is
 * not valid for it: ASCII passwords are used as they are; others are
 * NFKC-normalised (the bulk of SASLprep's mapping).
 */
function normalizePassword(p: string): string {
  return /^[\x00-\x7f]*$/.test(p) ? p : p.normalize("NFKC");
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

function parseAttributes(msg: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of msg.split(",")) {
    const eq = part.indexOf("=");
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

/** One SCRAM-SHA-256 exchange, driven by the upstream's SASL messages. */
export class ScramClient {
  readonly #password: string;
  readonly #nonce: string;
  readonly #clientFirstBare: string;
  #serverSignature: Buffer | undefined;

  constructor(password: string, nonce = randomBytes(18).toString("base64")) {
    this.#password = password;
    this.#nonce = nonce;
    // The user name is taken from the StartupMessage; SCRAM's is left empty.
    this.#clientFirstBare = `n=,r=${nonce}`;
  }

  /** The SASLInitialResponse payload. */
  clientFirst(): string {
    return `n,,${this.#clientFirstBare}`;
  }

  /** The SASLResponse payload answering the server-first message. */
  async clientFinal(serverFirst: string): Promise<string> {
    const a = parseAttributes(serverFirst);
    const nonce = a.get("r");
    const salt = a.get("s");
    const iterations = Number(a.get("i"));
    if (!nonce || !nonce.startsWith(this.#nonce) || nonce.length === this.#nonce.length) throw new Error("SCRAM: server nonce does not extend ours");
    if (salt === undefined || !Number.isSafeInteger(iterations) || iterations < 1 || iterations > 10_000_000) {
      throw new Error("SCRAM: malformed server-first message");
    }
    const salted = await saltedPassword(this.#password, Buffer.from(salt, "base64"), iterations);
    const clientKey = hmac(salted, "Client Key");
    const storedKey = createHash("sha256").update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`; // biws = base64("n,,")
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    this.#serverSignature = hmac(hmac(salted, "Server Key"), authMessage);
    return `${withoutProof},p=${proof.toString("base64")}`;
  }

  /** Checks the server-final message; throws unless the server proved it knows the password. */
  verifyServerFinal(serverFinal: string): void {
    const a = parseAttributes(serverFinal);
    if (a.has("e")) throw new Error(`SCRAM: server reported ${a.get("e")}`);
    const v = a.get("v");
    if (!v || !this.#serverSignature) throw new Error("SCRAM: missing server signature");
    const got = Buffer.from(v, "base64");
    if (got.length !== this.#serverSignature.length || !timingSafeEqual(got, this.#serverSignature)) {
      throw new Error("SCRAM: server signature mismatch");
    }
  }
}

/** The MD5 password response: `md5` + md5hex(md5hex(password + user) + salt). */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash("md5").update(password).update(user).digest("hex");
  return `md5${createHash("md5").update(inner).update(salt).digest("hex")}`;
}
