/**
 * The one place that loads `@peculiar/x509`: it needs `reflect-metadata`
 * imported first and a WebCrypto provider registered before any call, and
 * doing both here means no other module can forget either.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { randomBytes, webcrypto } from "node:crypto";

x509.cryptoProvider.set(webcrypto);

/** The library, ready to use (provider set). */
export { x509 };

/** ECDSA P-256 with SHA-256: key generation, import and signing all use it. */
export const EC_ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** The same WebCrypto the library signs with, so keys move between them freely. */
export const subtle = webcrypto.subtle;

/**
 * A random positive 128-bit serial (hex). The top bit is cleared so the DER
 * INTEGER stays positive and the next one set so the length is fixed.
 */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x40;
  return b.toString("hex");
}

/** PKCS#8 DER → PEM (the form `tls.createSecureContext` and the store take). */
export function pkcs8Pem(der: ArrayBuffer): string {
  return x509.PemConverter.encode([{ type: "PRIVATE KEY", rawData: der }]);
}
