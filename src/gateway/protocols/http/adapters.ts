/**
 * Adapters from the gateway's real modules to the interceptor's ports
 * (./ports.ts), for the composition root: credential injection through the
 * credential types' `http` hooks, upstream TLS from the endpoint's
 * `ca_cert` and an `upstreamTls` credential hook, redaction with the shared
 * `Redactor`, and the audit record as an `actions` row.
 *
 * Kept apart from the engine so the engine's tests run on fakes and a
 * change in one of these modules breaks one adapter, not the engine.
 */
import { createHash } from "node:crypto";
import type { ConnectionOptions } from "node:tls";
import type { CompiledEndpoint, CompiledPolicy } from "../../../policy/compiled.js";
import type { ApproverDecision, NewAction } from "../../../store/actions.js";
import { getString } from "../../../types/common.js";
import { OutboundHttpRequest, applyHttpInjection, type SecretSlots } from "../../../types/credentials/http.js";
import type { InterceptHandler } from "../../dispatch.js";
import { Redactor } from "../../redact.js";
import { upstreamTlsOptions } from "../../tls/upstream.js";
import type { AuditRecord } from "./audit.js";
import type { HttpInterceptor } from "./intercept.js";
import type { HttpInterceptDeps, InjectResult, OutboundRequest, SecretRedaction, UpstreamTarget } from "./ports.js";

/** Where secrets come from (`SecretResolver` fits). */
export interface SecretSource {
  slotsFor(credentialName: string): SecretSlots;
}

/**
 * The `inject` port over the credential types' `http` hooks: the
 * credential's block and type come from the current policy, the secret
 * from `secrets`. A failing hook (no secret, an unusable one) leaves the
 * request as the agent sent it and reports `missing` with the scrubbed
 * reason; a credential type without a hook injects nothing.
 */
export function credentialInjector(policy: () => CompiledPolicy, secrets: SecretSource): HttpInterceptDeps["inject"] {
  return async (out: OutboundRequest): Promise<InjectResult> => {
    const decl = policy().config.credentials.find((c) => c.name === out.credential);
    if (!decl) return { missing: true, reason: `credential "${out.credential}" is not in the current config` };
    const hook = decl.spec.http;
    if (!hook) return { secrets: [], target: out.target, headers: out.headers };
    const req = new OutboundHttpRequest({
      method: out.method,
      target: out.target,
      headers: out.headers,
      ...(out.body ? { body: out.body } : {}),
      bodyTruncated: out.bodyTruncated,
    });
    const r = applyHttpInjection(hook, req, {
      secret: secrets.slotsFor(out.credential),
      block: decl.block,
      ...(out.placeholder !== undefined ? { placeholder: out.placeholder } : {}),
    });
    if (!r.ok) return { missing: true, reason: r.error };
    return { secrets: r.injected, target: req.target, headers: req.headers, ...(req.bodyChanged && req.body ? { body: req.body } : {}) };
  };
}

/**
 * The `upstreamTls` port: the endpoint's `ca_cert` as the only trust
 * anchor when set (system roots otherwise), the identity checked against
 * the name the agent asked for, and the client certificate of a credential
 * with an `upstreamTls` hook (`mtls_credential`, whose own `ca` slot then
 * wins over `ca_cert`). Results are memoised per input, so the keep-alive
 * pool keeps reusing connections until something actually changes (a
 * rotated certificate yields new options, hence new connections).
 */
export function upstreamTlsFor(policy: () => CompiledPolicy, secrets: SecretSource): (t: UpstreamTarget<CompiledEndpoint>) => Promise<ConnectionOptions> {
  const memo = new Map<string, ConnectionOptions>();
  return async (t) => {
    let caPem = getString(t.endpoint.decl.block, "ca_cert");
    let clientCert: { certPem: string; keyPem: string } | undefined;
    if (t.credential !== undefined) {
      const decl = policy().config.credentials.find((c) => c.name === t.credential);
      const hook = decl?.spec.upstreamTls;
      if (decl && hook) {
        const r = hook.resolve({ secret: secrets.slotsFor(decl.name), block: decl.block });
        if (!r.ok) throw new Error(`client certificate of credential "${decl.name}" unavailable: ${r.error}`);
        clientCert = { certPem: r.tls.certPem, keyPem: r.tls.keyPem };
        if (r.tls.caPem !== undefined) caPem = r.tls.caPem;
      }
    }
    const key = createHash("sha256")
      .update([t.endpoint.key, t.servername, caPem ?? "", clientCert?.certPem ?? "", clientCert?.keyPem ?? ""].join("\0"))
      .digest("hex");
    let opts = memo.get(key);
    if (!opts) {
      opts = upstreamTlsOptions({ servername: t.servername, ...(caPem !== undefined ? { caPem } : {}), ...(clientCert ? { clientCert } : {}) });
      if (memo.size > 1024) memo.clear();
      memo.set(key, opts);
    }
    return opts;
  };
}

const redactors = new Map<string, Redactor>();

/**
 * The `redaction` port over the shared redactor (secret + its encodings).
 * Compiled redactors are reused per secret set (bounded), so a credential's
 * patterns are derived once, not per request.
 */
export function sharedRedaction(secrets: readonly string[]): SecretRedaction {
  const key = [...secrets].sort().join("\0");
  let r = redactors.get(key);
  if (!r) {
    r = new Redactor(secrets);
    if (redactors.size >= 256) redactors.delete(redactors.keys().next().value as string);
    redactors.set(key, r);
  }
  return r;
}

/**
 * An audit record as a row for `ActionsRepo.insert`: the same fields, minus
 * the flow id (a log correlation key, not a column).
 */
export function toNewAction(r: AuditRecord): NewAction {
  const { flowId: _flowId, approvals, ...row } = r;
  return { ...row, approvals: approvals.map((a): ApproverDecision => ({ ...a })) };
}

/** The interceptor as the dispatcher's runtime for the `http` and `k8s` families (a compile-time check, too). */
export function asInterceptHandler(i: HttpInterceptor<CompiledEndpoint>): InterceptHandler {
  return i;
}
