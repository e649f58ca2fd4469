/**
 * The audit record of one intercepted HTTP action, and how an exchange's
 * state becomes one.
 *
 * The record mirrors a row of the `actions` table (`NewAction` in
 * src/store/actions.ts) field for field, so the composition root can store
 * it as is. Everything in it has already been through the data plane's
 * redaction: sensitive headers are `***`, injected secret values are masked
 * wherever they occur (a final deep scrub runs over the whole record), and
 * bodies are cut to `limits.body_storage`.
 */
import type { Action } from "../../../policy/action.js";
import type { StageDecision } from "../../approvals.js";
import type { Flow } from "../../flow.js";
import { auditBody, type BodySample } from "./body.js";
import { auditHeaders, isAuthHeader, type HeaderPairs, type SampledHeaders } from "./headers.js";
import type { SecretRedaction } from "./ports.js";
import { MASK, redactDeep } from "./scrub.js";

/** What finally happened to the action (an approval chain ends in allow or deny). */
export type AuditVerdict = "allow" | "deny" | "error";

/** One approver's say, as the `approvals` column holds it. */
export interface AuditApproval {
  approver: string;
  /** `allow` or `deny`. */
  decision: string;
  /** Operator login, `llm:<model>`, `timeout`, `client`, ... */
  by?: string;
  reason?: string;
  /** Epoch ms. */
  at?: number;
}

/** Flags beyond the store's own (`req_body_truncated`, `resp_body_truncated`, `facets_unknown`). */
export const AuditFlags = {
  reqBodyTruncated: "req_body_truncated",
  respBodyTruncated: "resp_body_truncated",
  facetsUnknown: "facets_unknown",
  /** The request body overflowed `limits.body_buffer` (rules saw a prefix). */
  inspectionTruncated: "inspection_truncated",
  failClosed: "fail_closed",
  upgrade: "upgrade",
  upstreamError: "upstream_error",
  clientDisconnected: "client_disconnected",
  credentialMissing: "credential_missing",
  approvalCancelled: "approval_cancelled",
  /** The response was encoded in a way the redactor cannot see through; it was refused. */
  unredactable: "unredactable",
} as const;

/** One intercepted action, ready for the audit store (a row of `actions`). */
export interface AuditRecord {
  /** Epoch ms when the request head arrived. */
  time: number;
  /** The flow (connection) the request came on, for log correlation. */
  flowId: string;
  device: string;
  profile: string;
  transport: string;
  /** `type.name`. */
  endpoint: string;
  family: string;
  /** The name the agent dialed (SNI, else the destination host). */
  host: string;
  /** Credential name injected (never its value); "" when none. */
  credential: string;
  /** Rule that decided; "" when the default allow applied. */
  rule: string;
  verdict: AuditVerdict;
  reason: string;
  approvals: AuditApproval[];
  /** `{ http: {...} }` / `{ k8s: {...} }` without bodies (those are in `reqBody`), headers masked. */
  facets: Record<string, unknown>;
  /** `GET /path`. */
  summary: string;
  /** Status the agent received (upstream's, or the gateway's own 403/421/502); null if none was sent. */
  status: number | null;
  /** From the request head to the end of the response, ms. */
  latencyMs: number | null;
  /** Request body bytes received from the agent (upgrades: bytes agent → upstream). */
  bytesIn: number;
  /** Response body bytes sent to the agent (upgrades: bytes upstream → agent). */
  bytesOut: number;
  reqHeaders: SampledHeaders | null;
  reqBody: string | Uint8Array | null;
  /** Upstream's response headers (masked, secrets redacted), before sanitisation. */
  respHeaders: SampledHeaders | null;
  respBody: string | Uint8Array | null;
  flags: string[];
}

/** What an exchange accumulates on its way; turned into a record once, at the end. */
export interface ExchangeState {
  /** Epoch ms and monotonic start. */
  time: number;
  t0: number;
  flow: Flow;
  endpoint: string;
  family: string;
  host: string;
  method: string;
  path: string;
  action?: Action;
  credential: string;
  rule: string;
  verdict: AuditVerdict;
  reason: string;
  approvals: StageDecision[];
  status: number | null;
  bytesIn: number;
  bytesOut: number;
  reqPairs: HeaderPairs;
  /** Request body bytes as read before the decision (sampled from). */
  reqBody: Buffer | null;
  /** The request body continued beyond `reqBody`. */
  reqBodyCut: boolean;
  respPairs: HeaderPairs | null;
  respSample: BodySample | null;
  /** Outbound headers the credential injector wrote (lower case). */
  injected: Set<string>;
  /** Redaction of the injected secrets (nothing when none was injected). */
  redaction: SecretRedaction;
  flags: Set<string>;
  /** Set once the record was emitted. */
  done: boolean;
}

/** The family facets as the audit shows them: no bodies, auth-bearing and injected headers masked. */
export function auditFacets(action: Action | undefined, injected: ReadonlySet<string>): Record<string, unknown> {
  if (!action) return {};
  const out: Record<string, unknown> = {};
  if (action.family === "http") {
    const { body: _b, body_json: _j, headers, ...rest } = action.http;
    const masked: Record<string, string[]> = {};
    for (const [k, vs] of Object.entries(headers)) {
      masked[k] = isAuthHeader(k) || injected.has(k.toLowerCase()) ? vs.map(() => MASK) : vs;
    }
    out["http"] = { ...rest, headers: masked };
  } else {
    out[action.family] = action.family === "k8s" ? action.k8s : {};
  }
  if (action.unknown && action.unknown.length > 0) out["unknown"] = action.unknown.map((u) => ({ ...u }));
  return out;
}

/** The record for a finished exchange (scrubbed of every injected secret). */
export function toAuditRecord(s: ExchangeState, bodyStorage: number, nowMono: number): AuditRecord {
  const flags = new Set(s.flags);
  const req = s.reqBody ? auditBody(s.reqBody, bodyStorage, s.redaction, s.reqBodyCut) : null;
  if (req?.truncated) flags.add(AuditFlags.reqBodyTruncated);
  const resp = s.respSample ? auditBody(s.respSample.bytes(), bodyStorage, s.redaction, s.respSample.truncated) : null;
  if (resp?.truncated) flags.add(AuditFlags.respBodyTruncated);
  if (s.action?.unknown && s.action.unknown.length > 0) flags.add(AuditFlags.facetsUnknown);
  const record: AuditRecord = {
    time: s.time,
    flowId: s.flow.id,
    device: s.flow.device,
    profile: s.flow.profile,
    transport: s.flow.transport,
    endpoint: s.endpoint,
    family: s.family,
    host: s.host,
    credential: s.credential,
    rule: s.rule,
    verdict: s.verdict,
    reason: s.reason,
    approvals: s.approvals.map((d) => ({
      approver: d.stage,
      decision: d.verdict,
      by: d.by,
      at: d.at,
      ...(d.reason !== undefined ? { reason: d.reason } : {}),
    })),
    facets: auditFacets(s.action, s.injected),
    summary: `${s.method.toUpperCase()} ${s.path}`,
    status: s.status,
    latencyMs: Math.round((nowMono - s.t0) * 1000) / 1000,
    bytesIn: s.bytesIn,
    bytesOut: s.bytesOut,
    reqHeaders: auditHeaders(s.reqPairs, s.injected, s.redaction),
    reqBody: req?.body ?? null,
    respHeaders: s.respPairs ? auditHeaders(s.respPairs, s.injected, s.redaction) : null,
    respBody: resp?.body ?? null,
    flags: [...flags],
  };
  return redactDeep(record, s.redaction);
}
