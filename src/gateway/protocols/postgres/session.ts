/**
 * A running Postgres session: the relay between an authenticated agent and
 * its upstream backend, gating every statement.
 *
 * Agent → upstream, message by message, in order:
 * - `Query` (simple protocol, possibly several statements) and `Parse`
 *   (extended protocol) go through the gate; allowed ones are forwarded,
 *   denied ones answered by the gateway with `ErrorResponse` (SQLSTATE
 *   42501, the reason as the message) — plus `ReadyForQuery` with the
 *   current transaction status for a `Query` — and never reach upstream.
 * - After a denied `Parse`, the rest of the extended batch (`Bind`,
 *   `Describe`, `Execute`, ...) is discarded up to `Sync`, exactly as
 *   Postgres itself does after an error, so drivers stay in step; `Sync` is
 *   forwarded and upstream's `ReadyForQuery` ends the batch.
 * - The legacy `FunctionCall` is always denied (it runs a function by OID,
 *   which no SQL rule can see).
 * - `CopyData` / `CopyDone` / `CopyFail` follow an allowed `COPY`.
 * - Anything else is a protocol violation: FATAL and close.
 *
 * Upstream → agent is forwarded as it streams (see ./backend-scanner.ts);
 * the answers the gateway owes are slotted in by ./responses.ts. Each
 * direction honours the other's backpressure.
 */
import type { Duplex } from "node:stream";
import type { NewAction } from "../../../store/actions.js";
import { PgAuditFlags, StatementAudit } from "./audit.js";
import { BackendScanner } from "./backend-scanner.js";
import { awaitApprovals, decideQuery, type GateDeps, type GateSession, type QueryVerdict } from "./gate.js";
import { ResponseQueue } from "./responses.js";
import {
  errorResponse,
  FrameReader,
  parseBind,
  parseErrorFields,
  parseExecute,
  parseTarget,
  ProtocolError,
  readyForQuery,
  type Frame,
  type TxStatus,
} from "./wire.js";

export interface SessionOptions {
  gate: GateSession;
  deps: GateDeps;
  audit(row: NewAction): void;
  /** How much of a statement the gate inspects (`limits.body_buffer`); longer ones are truncated ⇒ unknown facets. */
  inspectBytes: number;
  /** How much statement text an audit row keeps (`limits.body_storage`). */
  sampleBytes: number;
  /** Largest message the agent may send. */
  maxFrame: number;
  log: { info(msg: string, f?: Record<string, unknown>): void; warn(msg: string, f?: Record<string, unknown>): void };
  /** Called once when both sides are closed. */
  onClose?(): void;
}

/** Agent bytes buffered behind a waiting statement before the agent stream is paused. */
const PAUSE_AT = 1024 * 1024;

/** SQLSTATE of a denied statement: insufficient_privilege. */
export const DENY_SQLSTATE = "42501";

/** Audits of one forwarded message: a Query's statements (in order), or a Parse / Execute's statement. */
interface EntryData {
  audits: StatementAudit[];
  /** Query: the statement the next CommandComplete / ErrorResponse belongs to. */
  next: number;
}

export class PgSession {
  readonly #agent: Duplex;
  readonly #up: Duplex;
  readonly #o: SessionOptions;
  readonly #reader: FrameReader;
  readonly #queue: ResponseQueue<EntryData>;
  readonly #scanner: BackendScanner;
  readonly #abort = new AbortController();
  /** Extended-protocol error state: discard until Sync. */
  #discard = false;
  /** Prepared statement name → its audits; portal name → the same. */
  readonly #statements = new Map<string, StatementAudit[]>();
  readonly #portals = new Map<string, StatementAudit[]>();
  /** Parse audits since the last Sync, finished when the batch ends. */
  #batch: StatementAudit[] = [];
  #pumping = false;
  #pausedForGate = false;
  #closed = false;
  #toUpstream: Buffer[] = [];

  constructor(agent: Duplex, upstream: Duplex, status: TxStatus, opts: SessionOptions) {
    this.#agent = agent;
    this.#up = upstream;
    this.#o = opts;
    this.#reader = new FrameReader(opts.maxFrame);
    this.#queue = new ResponseQueue<EntryData>(status);
    this.#scanner = new BackendScanner((type, body, first) => this.#onBackend(type, body, first));
  }

  /** Starts relaying; `agentLeftover` / `upstreamLeftover` are bytes already read during startup. */
  start(agentLeftover: Buffer, upstreamLeftover: Buffer): void {
    const agent = this.#agent;
    const up = this.#up;
    agent.on("data", (chunk: Buffer) => {
      this.#reader.push(chunk);
      // While a statement waits (an approval can take minutes), stop reading rather than buffer without bound.
      if (this.#pumping && this.#reader.buffered > PAUSE_AT) {
        agent.pause();
        this.#pausedForGate = true;
      }
      void this.#pump();
    });
    up.on("data", (chunk: Buffer) => this.#fromUpstream(chunk));
    agent.on("error", () => this.#close());
    up.on("error", () => this.#close());
    agent.on("close", () => this.#close());
    up.on("close", () => this.#close());
    agent.on("end", () => this.#close());
    up.on("end", () => this.#close());
    if (upstreamLeftover.length > 0) this.#fromUpstream(upstreamLeftover);
    if (agentLeftover.length > 0) {
      this.#reader.push(agentLeftover);
      void this.#pump();
    }
    agent.resume();
    up.resume();
  }

  // -------------------------------------------------------------------------
  // agent → upstream

  async #pump(): Promise<void> {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    try {
      for (;;) {
        let f: Frame | undefined;
        try {
          f = this.#reader.next();
        } catch (e) {
          return this.#fatal(e instanceof ProtocolError ? e.message : "invalid message");
        }
        if (!f) break;
        let more: boolean;
        try {
          const r = this.#onAgent(f);
          more = typeof r === "boolean" ? r : await r;
        } catch (e) {
          return this.#fatal(e instanceof ProtocolError ? e.message : "invalid message");
        }
        if (!more || this.#closed) return;
      }
    } finally {
      this.#pumping = false;
      this.#flushUpstream();
      if (this.#pausedForGate && !this.#closed) {
        this.#pausedForGate = false;
        this.#agent.resume();
      }
    }
  }

  /** Handles one agent message; false when the session is over. */
  #onAgent(f: Frame): boolean | Promise<boolean> {
    switch (f.type) {
      case "Q":
        if (this.#discard) return true;
        return this.#gated(f, "Q");
      case "P":
        if (this.#discard) return true;
        return this.#gated(f, "P");
      case "B": {
        if (this.#discard) return true;
        const { portal, statement } = parseBind(f.body);
        const audits = this.#statements.get(statement);
        if (audits) this.#portals.set(portal, audits);
        else this.#portals.delete(portal);
        this.#forward(f, "B");
        return true;
      }
      case "E": {
        if (this.#discard) return true;
        const audits = this.#portals.get(parseExecute(f.body).portal) ?? [];
        this.#forward(f, "E", { audits, next: 0 });
        return true;
      }
      case "D":
        if (this.#discard) return true;
        parseTarget(f.body);
        this.#forward(f, "D");
        return true;
      case "C": {
        if (this.#discard) return true;
        const t = parseTarget(f.body);
        (t.kind === "S" ? this.#statements : this.#portals).delete(t.name);
        this.#forward(f, "C");
        return true;
      }
      case "S":
        this.#discard = false;
        this.#forward(f, "S", { audits: this.#batch, next: 0 });
        this.#batch = [];
        return true;
      case "H":
        // Flush: always passed on, so answers to earlier messages (and owed errors behind them) reach the agent.
        this.#toUpstream.push(f.raw);
        return true;
      case "d":
      case "c":
      case "f":
        if (!this.#discard) this.#toUpstream.push(f.raw);
        return true;
      case "F":
        if (this.#discard) return true;
        this.#denyOwed("function calls by OID (FunctionCall) are not allowed through the gateway; call the function in SQL", true);
        return true;
      case "X":
        this.#toUpstream.push(f.raw);
        this.#flushUpstream();
        this.#up.end();
        this.#agent.end();
        return false;
      default:
        this.#fatal(`unexpected message type ${JSON.stringify(f.type)}`);
        return false;
    }
  }

  /** A Query or Parse: gate it, then forward or answer (synchronously unless an approval is needed). */
  #gated(f: Frame, kind: "Q" | "P"): boolean | Promise<boolean> {
    const { text, truncated } = this.#statementText(f, kind);
    let verdict: QueryVerdict;
    try {
      const v = decideQuery(text, truncated, this.#o.gate, this.#o.deps);
      if ("pending" in v) return this.#approved(f, kind, truncated, v.pending);
      verdict = v;
    } catch (e) {
      verdict = this.#gateFailed(e);
    }
    return this.#apply(f, kind, truncated, verdict);
  }

  /** Waits for the approval chain; the agent is not read meanwhile (see the data handler). */
  async #approved(f: Frame, kind: "Q" | "P", truncated: boolean, pending: QueryVerdict): Promise<boolean> {
    this.#flushUpstream();
    let verdict: QueryVerdict;
    try {
      verdict = await awaitApprovals(pending, this.#o.gate, this.#o.deps, this.#abort.signal);
    } catch (e) {
      verdict = this.#gateFailed(e);
    }
    return this.#apply(f, kind, truncated, verdict);
  }

  #gateFailed(e: unknown): QueryVerdict {
    this.#o.log.warn("postgres gate failed; denying", { error: (e as Error)?.message });
    return { allow: false, reason: "the statement could not be evaluated; failing closed", decision: undefined, statements: [], approvals: [], cancelled: false };
  }

  /** Forwards an allowed statement, or answers a denied one; audits either way. */
  #apply(f: Frame, kind: "Q" | "P", truncated: boolean, verdict: QueryVerdict): boolean {
    if (this.#closed) return false;
    const flags: string[] = [];
    if (truncated) flags.push(PgAuditFlags.inspectionTruncated);
    if (verdict.cancelled) flags.push(PgAuditFlags.approvalCancelled);
    if (verdict.allow) {
      const audits = verdict.statements.map((st) => new StatementAudit(st, "allow", "", verdict.approvals, flags));
      if (kind === "P") {
        this.#statements.set(parseStatementName(f.body), audits);
        this.#batch.push(...audits);
      }
      this.#forward(f, kind, { audits, next: 0 });
      return true;
    }
    for (const st of verdict.statements) {
      const own = st.decision === verdict.decision || st.decision.verdict === "deny";
      const reason = own ? verdict.reason : `another statement of the same query was denied: ${verdict.reason}`;
      this.#emitAudit(new StatementAudit(st, "deny", reason, verdict.approvals, flags).finish(this.#o.gate, this.#o.sampleBytes));
    }
    this.#denyOwed(verdict.reason, kind === "Q");
    if (kind === "P") this.#discard = true;
    return true;
  }

  /** The SQL text the gate sees, cut at the inspection buffer. */
  #statementText(f: Frame, kind: "Q" | "P"): { text: string; truncated: boolean } {
    let start = 0;
    if (kind === "P") {
      start = f.body.indexOf(0) + 1;
      if (start === 0) throw new ProtocolError("unterminated statement name");
    }
    const end = f.body.indexOf(0, start);
    if (end < 0) throw new ProtocolError("unterminated query string");
    const len = end - start;
    const truncated = len > this.#o.inspectBytes;
    const bytes = f.body.subarray(start, truncated ? start + this.#o.inspectBytes : end);
    return { text: bytes.toString("utf8").replace(/\uFFFD$/, ""), truncated };
  }

  #forward(f: Frame, type: string, data?: EntryData): void {
    this.#toUpstream.push(f.raw);
    this.#queue.forwarded(type, data);
  }

  /** Owes the agent a deny, after the answers to everything forwarded before it. */
  #denyOwed(reason: string, withReady: boolean): void {
    const err = errorResponse({ severity: "ERROR", code: DENY_SQLSTATE, message: reason, hint: "Blocked by the Claw Patrol gateway policy." });
    this.#flushUpstream();
    const now = this.#queue.owe((status) => (withReady ? Buffer.concat([err, readyForQuery(status)]) : err));
    if (now.length > 0) this.#writeAgent(now);
  }

  #flushUpstream(): void {
    if (this.#toUpstream.length === 0 || this.#closed) return;
    const bufs = this.#toUpstream;
    this.#toUpstream = [];
    const ok = this.#up.write(bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs));
    if (!ok) {
      this.#agent.pause();
      this.#up.once("drain", () => {
        if (!this.#closed) this.#agent.resume();
      });
    }
  }

  // -------------------------------------------------------------------------
  // upstream → agent

  #fromUpstream(chunk: Buffer): void {
    let pieces: Buffer[];
    try {
      pieces = this.#scanner.scan(chunk);
    } catch (e) {
      this.#o.log.warn("postgres upstream sent an invalid message; closing", { error: (e as Error).message });
      return this.#fatal("the upstream server sent an invalid message");
    }
    this.#writeAgent(pieces);
  }

  #writeAgent(pieces: Buffer[]): void {
    if (this.#closed || pieces.length === 0) return;
    const ok = this.#agent.write(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces));
    if (!ok) {
      this.#up.pause();
      this.#agent.once("drain", () => {
        if (!this.#closed) this.#up.resume();
      });
    }
  }

  /** One backend message passed: account for it; returns owed answers to insert after it. */
  #onBackend(type: string, body: Buffer | undefined, first: number | undefined): Buffer[] | undefined {
    const head = this.#queue.head;
    const data = head?.data;
    if (data && head) {
      if (type === "C" && body) {
        const a = head.type === "Q" ? data.audits[data.next++] : data.audits[0];
        if (a) a.tag = body.toString("utf8", 0, Math.max(0, body.length - 1));
      } else if (type === "E" && body) {
        const a = head.type === "Q" ? data.audits[data.next] : data.audits[0];
        if (a) {
          a.errorCode = errorCode(body);
          a.addFlag(PgAuditFlags.upstreamError);
        }
      }
    }
    const effect = this.#queue.onUpstream(type, first);
    for (const skipped of effect.skipped) this.#finishAll(skipped.data?.audits ?? []);
    if (type === "Z" && data && head && (head.type === "Q" || head.type === "S")) this.#finishAll(data.audits);
    return effect.release;
  }

  #finishAll(audits: readonly StatementAudit[], flag?: string): void {
    for (const a of audits) this.#emitAudit(a.finish(this.#o.gate, this.#o.sampleBytes, flag));
  }

  #emitAudit(row: NewAction | undefined): void {
    if (!row) return;
    try {
      this.#o.audit(row);
    } catch {
      /* auditing must not break the session */
    }
  }

  // -------------------------------------------------------------------------
  // ending

  /** Protocol violation by the agent (or a broken upstream): FATAL, then close. */
  #fatal(message: string): void {
    if (this.#closed) return;
    if (this.#agent.writable) this.#agent.write(errorResponse({ severity: "FATAL", code: "08P01", message: `protocol violation: ${message}` }));
    this.#agent.end();
    this.#close();
  }

  /** Ends the session now (gateway shutdown). */
  destroy(): void {
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#up.destroy();
    // Let a FATAL written just now reach the agent before the socket goes.
    this.#agent.end();
    setTimeout(() => this.#agent.destroy(), 1000).unref();
    for (const audits of this.#statements.values()) this.#finishAll(audits, PgAuditFlags.incomplete);
    this.#finishAll(this.#batch, PgAuditFlags.incomplete);
    this.#o.onClose?.();
  }
}

function parseStatementName(body: Buffer): string {
  const end = body.indexOf(0);
  return body.toString("utf8", 0, end < 0 ? 0 : end);
}

function errorCode(body: Buffer): string | undefined {
  try {
    return parseErrorFields(body).get("C");
  } catch {
    return undefined;
  }
}
