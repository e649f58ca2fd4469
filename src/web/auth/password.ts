/**
 * Password hashing: scrypt (node:crypto), a random 16-byte salt per hash,
 * and a versioned, self-describing encoding so the cost can be raised later
 * without invalidating stored hashes:
 *
 *     $scrypt$v=1$ln=15,r=8,p=1$<salt base64url>$<key base64url>
 *
 * N = 2^15, r = 8, p = 1 (OWASP's scrypt floor is N=2^17/r=8 at ~128 MiB;
 * 2^15 keeps a login at ~50–100 ms and 32 MiB so a burst of logins cannot
 * exhaust a small gateway, while login throttling bounds guessing online).
 * Verification recomputes with the parameters stored in the hash and
 * compares with timingSafeEqual.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from "node:crypto";

export const MIN_PASSWORD_LENGTH = 10;
/** Longer input is refused before hashing (scrypt's cost does not depend on it, but bodies should stay small). */
export const MAX_PASSWORD_LENGTH = 1024;

const LOG_N = 15;
const R = 8;
const P = 1;
const KEY_LEN = 32;
const SALT_LEN = 16;

function scrypt(password: string, salt: Buffer, keyLen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keyLen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

const memFor = (logN: number, r: number) => 128 * r * 2 ** logN * 2 + 1024 * 1024;

/** Why a new password is unacceptable, or undefined. */
export function passwordProblem(password: unknown): string | undefined {
  if (typeof password !== "string") return "password must be a string";
  if ([...password].length < MIN_PASSWORD_LENGTH) return `password must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `password must be at most ${MAX_PASSWORD_LENGTH} characters`;
  return undefined;
}

/** Hashes a password into the encoding above. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LEN);
  const key = await scrypt(password.normalize("NFC"), salt, KEY_LEN, { N: 2 ** LOG_N, r: R, p: P, maxmem: memFor(LOG_N, R) });
  return `$scrypt$v=1$ln=${LOG_N},r=${R},p=${P}$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

const FORMAT = /^\$scrypt\$v=1\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{32,})$/;

/** Whether `password` matches `encoded`. False (never a throw) for a malformed hash. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const m = FORMAT.exec(encoded);
  if (!m) return false;
  const logN = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  // Bounds keep a tampered row from turning a login into a memory bomb.
  if (logN < 10 || logN > 20 || r < 1 || r > 16 || p < 1 || p > 4) return false;
  const salt = Buffer.from(m[4]!, "base64url");
  const expected = Buffer.from(m[5]!, "base64url");
  let key: Buffer;
  try {
    key = await scrypt(password.normalize("NFC"), salt, expected.length, { N: 2 ** logN, r, p, maxmem: memFor(logN, r) });
  } catch {
    return false;
  }
  return key.length === expected.length && timingSafeEqual(key, expected);
}

let dummy: Promise<string> | undefined;
/**
 * Spends the time of one verification against a throwaway hash: a login for
 * an unknown user costs as much as one for a known user with a wrong password.
 */
export async function burnVerification(password: string): Promise<void> {
  dummy ??= hashPassword("clawpatrol-dummy-password");
  await verifyPassword(password, await dummy);
}
