/**
 * The audit row of one SSH channel action (pty, exec, shell, subsystem,
 * forward): what was asked (facets, a one-line summary), what the policy
 * said (verdict, rule, reason, approvals, credential *name*), and how it
 * ended (exit status or signal, bytes each way, latency).
 *
 * No secret can reach a row: the credential's key and password never enter
 * the channel path, and the only agent-supplied bytes kept are a sample of
 * the pre-gated stdin (the text the rules judged), cut to 4 KiB.
 */
import { performance } from "node:perf_hooks";
import type { Action } from "../../../policy/action.js";
import type { NewAction } from "../../../store/actions.js";
import { auditFacets, summaryOf, type GateContext, type GateOutcome } from "./gate.js";

/** Flags beyond the store's own. */
export const SshFlags = {
  facetsUnknown: "facets_unknown",
  failClosed: "fail_closed",
  /** The stdin pre-gate buffered this channel's stdin. */
  stdinPregated: "stdin_pregated",
  approvalCancelled: "approval_cancelled",
  upstreamError: "upstream_error",
  /** The upstream's host key did not match the pin. */
  hostKeyMismatch: "hostkey_mismatch",
  /** The channel was refused because its terminal (pty) request was denied. */
  ptyDenied: "pty_denied",
  clientDisconnected: "client_disconnected",
} as const;

/** How much pre-gated stdin the row keeps. */
export const STDIN_SAMPLE_BYTES = 4 * 1024;

/** What a channel action accumulates until it is over. */
export class ChannelRecord {
  readonly time: number;
  readonly t0 = performance.now();
  action: Action | undefined;
  outcome: GateOutcome | undefined;
  verdict: "allow" | "deny" | "error" = "deny";
  reason = "";
  exitStatus: number | null = null;
  /** Upstream's exit-signal (`SIGTERM`), with its core-dump flag and message, relayed as is. */
  exitSignal: string | undefined;
  exitCoreDumped = false;
  exitMessage = "";
  /** Agent → upstream (stdin, forwarded bytes). */
  bytesIn = 0;
  /** Upstream → agent (stdout + stderr, forwarded bytes). */
  bytesOut = 0;
  stdinSample: Buffer | undefined;
  readonly flags = new Set<string>();
  #done = false;

  constructor(now: Date) {
    this.time = now.getTime();
  }

  /** Takes the gate's say into the record. */
  decided(action: Action, o: GateOutcome): void {
    this.action = action;
    this.outcome = o;
    this.verdict = o.allow ? "allow" : "deny";
    this.reason = o.reason;
    if (o.failClosed) this.flags.add(SshFlags.failClosed);
    if (o.cancelled) this.flags.add(SshFlags.approvalCancelled);
    if (action.unknown && action.unknown.length > 0) this.flags.add(SshFlags.facetsUnknown);
  }

  /** Marks an upstream failure after an allow (the action did not run). */
  failed(reason: string, flag: string = SshFlags.upstreamError): void {
    this.verdict = "error";
    this.reason = reason;
    this.flags.add(flag);
  }

  /** The row, once; later calls return undefined. */
  finish(ctx: GateContext): NewAction | undefined {
    if (this.#done) return undefined;
    this.#done = true;
    const o = this.outcome;
    const facets = this.action ? auditFacets(this.action) : {};
    if (this.exitSignal !== undefined) facets["exit_signal"] = this.exitSignal;
    let sample: string | null = null;
    if (this.stdinSample && this.stdinSample.length > 0) {
      sample = this.stdinSample.subarray(0, STDIN_SAMPLE_BYTES).toString("utf8");
    }
    return {
      time: this.time,
      device: ctx.flow.device,
      profile: ctx.flow.profile,
      transport: ctx.flow.transport,
      endpoint: ctx.endpoint.key,
      family: "ssh",
      host: ctx.host,
      credential: o?.credential ?? "",
      rule: o?.rule ?? "",
      verdict: this.verdict,
      reason: this.reason,
      approvals: (o?.approvals ?? []).map((d) => ({
        approver: d.stage,
        decision: d.verdict,
        by: d.by,
        at: d.at,
        ...(d.reason !== undefined ? { reason: d.reason } : {}),
      })),
      facets,
      summary: this.action?.family === "ssh" ? summaryOf(this.action.ssh) : "",
      status: this.exitStatus,
      latencyMs: Math.round((performance.now() - this.t0) * 1000) / 1000,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      reqHeaders: null,
      reqBody: sample,
      respHeaders: null,
      respBody: null,
      flags: [...this.flags],
    };
  }
}
