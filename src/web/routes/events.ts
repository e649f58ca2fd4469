/**
 * `GET /api/events`: server-sent events.
 *
 * - `event: action` for every audited row (`id:` = the action id, `data:` =
 *   ActionSummary JSON); `event: approval` for approval-pool changes
 *   (ApprovalStreamEvent); a `: hb` comment every 15 s.
 * - Resuming: `Last-Event-ID` (sent by EventSource on reconnect) or
 *   `?after=<id>` replays the stored rows above that id first, oldest first,
 *   then continues live without a gap or duplicate (the replay read and the
 *   subscription happen in one synchronous step).
 * - Each client has a bounded queue ({@link MAX_QUEUED} events). A client
 *   too slow to drain it gets `event: overflow` and the stream ends: it must
 *   reload the list and reconnect rather than silently miss rows.
 */
import type { ServerResponse } from "node:http";
import type { ApprovalEvent } from "../../gateway/approvals.js";
import type { ActionSummary as StoredSummary } from "../../store/actions.js";
import type { ApprovalStreamEvent } from "../api.js";
import type { Ctx, HandlerTable } from "../context.js";
import type { WebDeps } from "../deps.js";
import { HttpError, toJson } from "../http.js";
import { summaryOfNew } from "./actions.js";
import { pendingInfo } from "./approvals.js";

export const MAX_QUEUED = 20_000;
export const HEARTBEAT_MS = 15_000;
const MAX_CLIENTS = 200;

class Client {
  queue: string[] = [];
  scheduled = false;
  draining = false;
  closed = false;
  constructor(
    readonly res: ServerResponse,
    private readonly onOverflow: (c: Client) => void,
  ) {}

  push(chunk: string): void {
    if (this.closed) return;
    if (this.queue.length >= MAX_QUEUED) {
      this.onOverflow(this);
      return;
    }
    this.queue.push(chunk);
    if (!this.scheduled && !this.draining) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.closed || this.draining || this.queue.length === 0) return;
    const chunk = this.queue.join("");
    this.queue = [];
    if (!this.res.write(chunk)) {
      this.draining = true;
      this.res.once("drain", () => {
        this.draining = false;
        this.flush();
      });
    }
  }
}

export class EventStreams {
  readonly #clients = new Set<Client>();
  #unsubscribe: (() => void)[] = [];
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly deps: WebDeps) {}

  get size(): number {
    return this.#clients.size;
  }

  #broadcast(chunk: string): void {
    for (const c of this.#clients) c.push(chunk);
  }

  /** Subscribes to the gateway only while someone listens. */
  #start(): void {
    if (this.#unsubscribe.length > 0) return;
    this.#unsubscribe = [
      this.deps.subscribeActions((row) => this.#broadcast(actionChunk(summaryOfNew(row)))),
      this.deps.approvals.subscribe((e) => this.#broadcast(`event: approval\ndata: ${toJson(approvalEvent(e))}\n\n`)),
    ];
    this.#heartbeat = setInterval(() => this.#broadcast(": hb\n\n"), HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  #stop(): void {
    for (const u of this.#unsubscribe) u();
    this.#unsubscribe = [];
    clearInterval(this.#heartbeat);
  }

  #remove(c: Client): void {
    c.closed = true;
    this.#clients.delete(c);
    if (this.#clients.size === 0) this.#stop();
  }

  #overflow = (c: Client): void => {
    if (c.closed) return;
    this.#remove(c);
    c.queue = [];
    c.res.end(`event: overflow\ndata: {"error":"client too slow; reload and reconnect"}\n\n`);
  };

  open(ctx: Ctx): void {
    if (this.#clients.size >= MAX_CLIENTS) throw new HttpError(503, "too many event streams");
    const after = resumePoint(ctx);
    const { res, req } = ctx;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
    res.write("retry: 2000\n: connected\n\n");
    req.socket.setNoDelay(true);
    const client = new Client(res, this.#overflow);
    // Replay and subscribe in one synchronous step: no row can fall between.
    if (after !== undefined) {
      this.deps.flushAudit();
      const rows = replayRows(this.deps, after);
      if (rows === "overflow") {
        res.end(`event: overflow\ndata: {"error":"too many rows to replay; reload the list"}\n\n`);
        return;
      }
      for (const r of rows) client.push(actionChunk(r));
    }
    this.#clients.add(client);
    this.#start();
    req.on("close", () => this.#remove(client));
  }

  closeAll(): void {
    for (const c of [...this.#clients]) {
      this.#remove(c);
      c.res.end();
    }
    this.#stop();
  }
}

function resumePoint(ctx: Ctx): number | undefined {
  const header = ctx.req.headers["last-event-id"];
  const raw = typeof header === "string" && header !== "" ? header : ctx.query.get("after");
  if (raw === null || raw === undefined || raw === "") return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw new HttpError(400, "Last-Event-ID / after must be an action id");
  return Number(raw);
}

/** Stored rows above `after`, oldest first; "overflow" past {@link MAX_QUEUED}. */
function replayRows(deps: WebDeps, after: number): StoredSummary[] | "overflow" {
  const out: StoredSummary[] = [];
  let before: number | undefined;
  for (;;) {
    const page = deps.store.actions.list({ after, limit: 1000, ...(before !== undefined ? { before } : {}) });
    out.push(...page.rows);
    if (out.length > MAX_QUEUED) return "overflow";
    if (page.nextBefore === null) break;
    before = page.nextBefore;
  }
  return out.reverse();
}

const actionChunk = (r: object & { id: number }): string => `id: ${r.id}\nevent: action\ndata: ${toJson(r)}\n\n`;

function approvalEvent(e: ApprovalEvent): ApprovalStreamEvent {
  if (e.type === "pending") return { type: "pending", approval: pendingInfo(e.approval) };
  if (e.type === "decided") return { type: "decided", id: e.id, decision: e.decision };
  return { type: "finished", id: e.id, verdict: e.outcome.verdict, reason: e.outcome.reason };
}

export const eventRoutes = (streams: EventStreams): HandlerTable => ({
  "GET /api/events": (ctx) => streams.open(ctx),
});
