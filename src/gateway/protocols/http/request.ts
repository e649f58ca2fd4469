/**
 * The per-request steps shared by plain requests and upgrades: checking the
 * request head, turning it into an action, deciding it (including the
 * approval chain), and injecting the credential into the outbound copy.
 */
import type { IncomingMessage } from "node:http";
import { performance } from "node:perf_hooks";
import type { Action } from "../../../policy/action.js";
import { decide, settledVerdict, type Decision } from "../../../policy/decide.js";
import { buildHttpFacets, splitTarget } from "../../../policy/facets/http.js";
import { buildK8sFacets } from "../../../policy/facets/k8s.js";
import { runApprovalChain, type StageDecision } from "../../approvals.js";
import type { Flow } from "../../flow.js";
import { AuditFlags, auditFacets, type ExchangeState } from "./audit.js";
import { changedHeaders, dispatchTexts, headerValue, outboundHeaders, pairsOf, setHeader, type HeaderPairs } from "./headers.js";
import type { HttpInterceptDeps, InterceptEndpoint } from "./ports.js";
import { NO_REDACTION } from "./scrub.js";

/** What the interceptor knows about one agent connection. */
export interface ConnContext<E extends InterceptEndpoint = InterceptEndpoint> {
  flow: Flow;
  endpoint: E;
  /** The TLS name toward the agent: SNI, else the destination host (lower case, no brackets). */
  name: string;
  /**
   * Where requests go: the dispatcher's route (the SNI name when the SNI
   * claimed the flow, else the destination), at the destination port.
   */
  upstream: { host: string; port: number };
  /** Requests in progress on this connection. */
  inflight: number;
}

/** Fresh per-request state (see {@link ExchangeState}). */
export function newExchange(ctx: ConnContext, req: IncomingMessage, now: Date): ExchangeState {
  const target = req.url ?? "/";
  return {
    time: now.getTime(),
    t0: performance.now(),
    flow: ctx.flow,
    endpoint: ctx.endpoint.key,
    family: ctx.endpoint.family,
    host: ctx.upstream.host,
    method: req.method ?? "GET",
    path: splitTarget(target).path,
    credential: "",
    rule: "",
    verdict: "deny",
    reason: "",
    approvals: [],
    status: null,
    bytesIn: 0,
    bytesOut: 0,
    reqPairs: pairsOf(req.rawHeaders),
    reqBody: null,
    reqBodyCut: false,
    respPairs: null,
    respSample: null,
    injected: new Set(),
    redaction: NO_REDACTION,
    flags: new Set(),
    done: false,
  };
}

/** `host[:port]` as a Host header or host index key (IPv6 bracketed, port 443 implied). */
export function hostPort(host: string, port: number): string {
  const h = host.includes(":") ? `[${host}]` : host;
  return port === 443 ? h : `${h}:${port}`;
}

/** Lower-cased host of a `Host` header value, without port or brackets. */
export function hostOfHeader(value: string): string {
  let v = value.trim().toLowerCase();
  if (v.startsWith("[")) {
    const end = v.indexOf("]");
    v = end < 0 ? v.slice(1) : v.slice(1, end);
  } else {
    const colon = v.lastIndexOf(":");
    if (colon >= 0 && v.indexOf(":") === colon) v = v.slice(0, colon);
  }
  return v.endsWith(".") ? v.slice(0, -1) : v;
}

/** A request head the gateway refuses before any policy: status, reason. */
export interface HeadProblem {
  status: 400 | 421;
  reason: string;
}

/**
 * Checks the request head. The target must be origin-form (`/...`, or `*`
 * for OPTIONS): an absolute URL could name another host than the one the
 * policy decided for. The `Host` header must name the TLS server name: a
 * shared front end (a CDN) routes by `Host`, so a mismatch would deliver
 * the injected credential to whatever site the agent named there.
 */
export function checkHead(ctx: ConnContext, req: IncomingMessage): HeadProblem | undefined {
  const target = req.url ?? "";
  if (!target.startsWith("/") && !(target === "*" && req.method === "OPTIONS")) {
    return { status: 400, reason: "request target must be a path (origin-form)" };
  }
  const host = headerValue(pairsOf(req.rawHeaders), "host");
  if (host !== undefined) {
    const h = hostOfHeader(host);
    if (h !== ctx.name && h !== ctx.upstream.host.toLowerCase()) {
      return { status: 421, reason: `Host header does not match the TLS server name "${ctx.name}"` };
    }
  }
  return undefined;
}

/** Builds the action for a request (body: what rules may inspect; `truncated` when more followed). */
export function buildAction(ctx: ConnContext, req: IncomingMessage, body: Buffer | undefined, truncated: boolean): Action {
  const pairs = pairsOf(req.rawHeaders);
  const method = req.method ?? "GET";
  const target = req.url ?? "/";
  const { rawQuery } = splitTarget(target);
  const host = hostPort(ctx.upstream.host, ctx.upstream.port);
  const base = {
    host,
    device: ctx.flow.device,
    profile: ctx.flow.profile,
    dispatch: { texts: dispatchTexts(pairs, rawQuery) },
    ...(ctx.flow.peer ? { peerIp: ctx.flow.peer.address } : {}),
  };
  if (ctx.endpoint.family === "k8s") {
    const { facets, unknown } = buildK8sFacets(method, target);
    return { ...base, family: "k8s", k8s: facets, ...(unknown.length > 0 ? { unknown } : {}) };
  }
  const { facets, unknown } = buildHttpFacets({ method, target, headers: pairs, ...(body ? { body } : {}), truncated });
  return { ...base, family: "http", http: facets, ...(unknown.length > 0 ? { unknown } : {}) };
}

/** The final say on a request: policy verdict, then the approval chain if any. */
export interface Outcome {
  allow: boolean;
  decision: Decision;
  reason: string;
  approvals: StageDecision[];
  cancelled: boolean;
}

/**
 * Decides an action and, for `approve`, runs the chain (the signal the
 * caller hands out on demand aborts when the agent goes away; it is only
 * created for approvals). Fails closed: an exception
 * anywhere, an unknown rule or approver, a passthrough verdict (impossible
 * for a pinned endpoint) all deny.
 */
export async function settle<E extends InterceptEndpoint>(deps: HttpInterceptDeps<E>, ctx: ConnContext<E>, action: Action, abortSignal: () => AbortSignal): Promise<Outcome> {
  let decision: Decision;
  const policy = deps.policy();
  try {
    decision = decide(policy, action, { now: deps.now(), endpoint: ctx.endpoint.key });
  } catch (e) {
    deps.log.error("policy decision failed; denying", { flow: ctx.flow.id, error: e instanceof Error ? e.message : String(e) });
    decision = { verdict: "deny", reason: "policy evaluation failed; failing closed" };
  }
  if (decision.failClosed) {
    deps.log.info("rule failed closed", { flow: ctx.flow.id, rule: decision.rule, cause: decision.failClosed.cause, detail: decision.failClosed.detail });
  }
  const settled = settledVerdict(decision);
  if (settled) {
    // An allowed request keeps the rule's reason for the audit row.
    const reason = settled.allow ? (decision.reason ?? "") : settled.reason;
    return { allow: settled.allow, decision, reason, approvals: [], cancelled: false };
  }
  const out = await runApprovalChain(
    deps.approvals,
    policy,
    decision,
    {
      endpoint: ctx.endpoint.key,
      device: ctx.flow.device,
      profile: ctx.flow.profile,
      summary: summaryOf(action),
      facets: auditFacets(action, new Set()),
    },
    abortSignal(),
  );
  return { allow: out.allow, decision, reason: out.reason, approvals: out.decisions, cancelled: out.cancelled };
}

function summaryOf(action: Action): string {
  if (action.family === "http") return `${action.http.method.toUpperCase()} ${action.http.path}`;
  if (action.family === "k8s") {
    const k = action.k8s;
    return `${k.verb} ${k.resource}${k.namespace ? ` -n ${k.namespace}` : ""}${k.name ? ` ${k.name}` : ""}`;
  }
  return action.family;
}

/** Records the outcome on the exchange state. */
export function applyOutcome(state: ExchangeState, action: Action, o: Outcome): void {
  state.action = action;
  state.rule = o.decision.rule ?? "";
  state.credential = o.allow ? (o.decision.credential ?? "") : "";
  state.verdict = o.allow ? "allow" : "deny";
  state.reason = o.allow ? "" : o.reason;
  state.approvals = o.approvals;
  if (o.decision.failClosed) state.flags.add(AuditFlags.failClosed);
  if (o.cancelled) state.flags.add(AuditFlags.approvalCancelled);
}

/** The outbound request, with the credential injected. */
export interface Prepared {
  target: string;
  headers: HeaderPairs;
  /** A body the injector rewrote (only for a completely buffered body); send it instead of the agent's. */
  body?: Uint8Array;
}

/** The profile placeholder that selected `credential` at the endpoint, if any. */
function placeholderOf(deps: HttpInterceptDeps<InterceptEndpoint>, ctx: ConnContext, credential: string): string | undefined {
  const table = deps.policy().profiles.get(ctx.flow.profile)?.dispatch.get(ctx.endpoint.name);
  return table?.find((e) => e.credential === credential)?.discriminators.placeholder;
}

/**
 * Builds the outbound head and lets the injector write the credential.
 * Nothing injected (no secret, unusable secret) ⇒ forwarded as the agent
 * sent it, with a warning. An injector that throws ⇒ `undefined` (the
 * caller answers 502).
 */
export async function prepareOutbound<E extends InterceptEndpoint>(
  deps: HttpInterceptDeps<E>,
  ctx: ConnContext<E>,
  req: IncomingMessage,
  state: ExchangeState,
  upgrade: boolean,
  body?: { bytes: Buffer; truncated: boolean },
): Promise<Prepared | undefined> {
  let headers = outboundHeaders(state.reqPairs, { upgrade });
  if (headerValue(headers, "host") === undefined) headers.push(["Host", hostPort(ctx.upstream.host, ctx.upstream.port)]);
  if (!upgrade && req.headers["transfer-encoding"] !== undefined) headers = setHeader(headers, "Transfer-Encoding", "chunked");
  const target = req.url ?? "/";
  if (state.credential === "") return { target, headers };
  const placeholder = placeholderOf(deps as HttpInterceptDeps<InterceptEndpoint>, ctx, state.credential);
  try {
    const r = await deps.inject({
      endpoint: ctx.endpoint.key,
      credential: state.credential,
      ...(placeholder !== undefined ? { placeholder } : {}),
      method: req.method ?? "GET",
      target,
      host: ctx.upstream.host,
      headers: headers.map(([k, v]): [string, string] => [k, v]),
      ...(body && body.bytes.length > 0 ? { body: body.bytes } : {}),
      bodyTruncated: body?.truncated ?? false,
    });
    if ("missing" in r) {
      deps.log.warn("credential not injected; forwarding as sent", { flow: ctx.flow.id, credential: state.credential, reason: r.reason });
      state.flags.add(AuditFlags.credentialMissing);
      return { target, headers };
    }
    state.redaction = deps.redaction(r.secrets);
    state.injected = changedHeaders(headers, r.headers);
    const out: Prepared = { target: r.target, headers: r.headers };
    if (r.body !== undefined && !(body?.truncated ?? false)) out.body = r.body;
    return out;
  } catch (e) {
    deps.log.error("credential injection failed", { flow: ctx.flow.id, credential: state.credential, error: e instanceof Error ? e.name : "error" });
    return undefined;
  }
}
