/**
 * The upstream-TLS hook: credential types that authenticate by a client
 * certificate on the gateway→upstream handshake (mtls_credential) rather
 * than by anything in the request. The TLS layer calls it when it dials
 * an upstream whose bound credential has the hook, and hands the result
 * to `tls.connect` — it never knows which type produced it.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import type { DecodedBlock } from "../schema.js";
import type { SecretSlots, SlotSpec } from "./http.js";

/** PEM material for one upstream handshake. */
export interface UpstreamTlsMaterial {
  /** Client certificate chain (leaf first). */
  certPem: string;
  /** The leaf's private key. Never logged, never sent anywhere but into `tls.connect`. */
  keyPem: string;
  /** CA bundle to verify the upstream with, when the credential carries one. */
  caPem?: string;
}

/** The material, or why there is none (the TLS layer then fails the dial with that reason). */
export type UpstreamTlsResult = { ok: true; tls: UpstreamTlsMaterial } | { ok: false; error: string };

/** What the hook may use. */
export interface UpstreamTlsContext {
  secret: SecretSlots;
  block: DecodedBlock;
}

/** The `upstreamTls` hook of a credential type. */
export interface UpstreamTlsProvider {
  slots: readonly SlotSpec[];
  /**
   * The material for the next handshake, read fresh each time so a rotated
   * certificate applies to new connections. Errors never quote the PEMs.
   */
  resolve(ctx: UpstreamTlsContext): UpstreamTlsResult;
}

/**
 * Checks a certificate/key pair before the handshake, so an operator sees
 * "key does not match certificate" in the log instead of an opaque TLS
 * alert from the upstream.
 */
export function checkClientPair(certPem: string, keyPem: string): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return "slot \"cert\" does not hold a PEM certificate";
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return "slot \"key\" does not hold a PEM private key (or it is encrypted)";
  }
  if (!cert.checkPrivateKey(key)) return "slot \"key\" does not match the certificate in slot \"cert\"";
  return undefined;
}
