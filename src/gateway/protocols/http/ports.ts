/**
 * The narrow interfaces ("ports") the HTTPS interception engine needs from
 * the rest of the gateway. Each one is a single capability the composition
 * root wires to a real module (the leaf cache, the secret store, the
 * approvals engine, the audit repository, ...), so this engine can be built
 * and tested before those modules settle, and never imports their internals.
 */
import type { ConnectionOptions, SecureContext } from "node:tls";
import type { Family } from "../../../policy/action.js";
import type { CompiledPolicy } from "../../../policy/compiled.js";
import type { ApprovalOutcome, ApprovalSubject, ApproverStage } from "../../approvals.js";
import type { AuditRecord } from "./audit.js";

/**
 * What the dispatcher tells us about the endpoint that claimed a flow. A
 * `CompiledEndpoint` satisfies it; the interceptor is generic over the exact
 * type so the `upstreamTls` port receives whatever the dispatcher passed
 * (e.g. with its `ca_cert`).
 */
export interface InterceptEndpoint {
  /** `type.name`, e.g. `https.github` (also used to pin the decision). */
  key: string;
  name: string;
  type: string;
  family: Family;
}

/** What the dispatcher learned from peeking at the ClientHello. */
export interface TlsHello {
  /** Server name the agent sent (absent e.g. for kubernetes by IP). */
  sni?: string;
  /** ALPN protocols the agent offered, in its order. */
  alpn: readonly string[];
}

/** Which upstream the gateway is about to dial, for the `upstreamTls` port. */
export interface UpstreamTarget<E extends InterceptEndpoint = InterceptEndpoint> {
  endpoint: E;
  /** The name the agent asked for (SNI, else the destination host): the certificate must match it. */
  servername: string;
  /** The credential the request will carry (an `mtls_credential` adds a client certificate). */
  credential?: string;
}

/** One header line, name as the agent spelled it (order is kept). */
export type HeaderField = [name: string, value: string];

/**
 * The request about to go upstream, handed to the credential injector. It
 * is the agent's request minus hop-by-hop headers; the injector answers
 * with the head to send instead (see {@link InjectResult}).
 */
export interface OutboundRequest {
  /** `type.name` of the endpoint. */
  endpoint: string;
  /** The credential the policy dispatched the request against. */
  credential: string;
  /** The profile placeholder that selected it, when one did. */
  placeholder?: string;
  method: string;
  /** Request-target (`/path?query`). */
  target: string;
  /** Host the request goes to (no port). */
  host: string;
  headers: HeaderField[];
  /** The body as buffered (absent when none). */
  body?: Uint8Array;
  /** `body` is only a prefix (it overflowed `limits.body_buffer`). */
  bodyTruncated: boolean;
}

/**
 * The injector's answer: the head to send (and a replacement body, when
 * the credential lives there), plus `secrets` — every sensitive value
 * written, exactly what gets redacted from responses and audit. `missing`
 * means nothing was injected (no secret configured, or unusable): the
 * request is forwarded as the agent sent it and a warning is logged.
 */
export type InjectResult =
  | { secrets: string[]; target: string; headers: HeaderField[]; body?: Uint8Array }
  | { missing: true; reason?: string };

/**
 * Redaction of one request's injected secrets (`Redactor` of
 * src/gateway/redact.ts fits): the byte patterns it searches for (the
 * secret and its encodings) and one-shot redaction of complete values.
 */
export interface SecretRedaction {
  /** Nothing to redact (no secret, or all too short to redact). */
  readonly empty: boolean;
  /** Every byte pattern searched for (the streaming redactor holds back only what could start one). */
  readonly patterns: readonly Buffer[];
  redactText(s: string): string;
  redactBytes(b: Uint8Array): Buffer;
}

/** Structured logging (pino-like levels, message first). */
export interface InterceptLog {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** The approvals engine, as far as a parked request needs it (`ApprovalsEngine` fits). */
export interface ApprovalsPort {
  run(subject: ApprovalSubject, chain: readonly ApproverStage[], signal: AbortSignal): Promise<ApprovalOutcome>;
}

/** Body size limits (`gateway { limits {} }`), in bytes; read per request so a reload applies. */
export interface BodyLimits {
  /** How much of a request body rules may inspect (`body_buffer`, default 1 MiB). */
  bodyBuffer: number;
  /** How much of each body the audit keeps (`body_storage`, default 4 KiB). */
  bodyStorage: number;
}

/** Everything the interceptor needs from the gateway. */
export interface HttpInterceptDeps<E extends InterceptEndpoint = InterceptEndpoint> {
  /** The current policy (read per request: a hot reload applies to the next request). */
  policy(): CompiledPolicy;
  /** The leaf certificate context for a server name (`LeafCache.context` fits). */
  secureContext(name: string): Promise<SecureContext>;
  /**
   * TLS options for dialing the upstream: trust anchors (`ca_cert` or system
   * roots), the identity check against `servername`, client certificates.
   * Called per request; return the same object while nothing changed, so
   * pooled connections keep being reused.
   */
  upstreamTls(target: UpstreamTarget<E>): Promise<ConnectionOptions>;
  /** The address to dial for a host (`UpstreamResolver.resolve` fits). */
  resolve(host: string): Promise<string>;
  /** Writes the credential into an outbound request (see {@link InjectResult}). */
  inject(outbound: OutboundRequest): Promise<InjectResult>;
  /** The redaction of a set of injected secrets (`secrets => new Redactor(secrets)`). */
  redaction(secrets: readonly string[]): SecretRedaction;
  approvals: ApprovalsPort;
  /** One call per action, after it completed (fire and forget; must not throw). */
  audit(record: AuditRecord): void;
  limits: BodyLimits;
  log: InterceptLog;
  now(): Date;
}

/** Defaults of `gateway { limits {} }`. */
export const DEFAULT_LIMITS: BodyLimits = { bodyBuffer: 1024 * 1024, bodyStorage: 4 * 1024 };
