/**
 * The SSE stream on its own: live rows at a sustained rate without a drop,
 * resume after a reconnect without a gap or duplicate, and the bounded
 * per-client queue ending a stream that cannot keep up.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import { ApprovalsEngine } from "../../gateway/approvals.js";
import { createLogger } from "../../gateway/log.js";
import { openMemoryStore, type Store } from "../../store/db.js";
import type { NewAction } from "../../store/actions.js";
import type { Ctx } from "../context.js";
import type { WebDeps } from "../deps.js";
import { EventStreams, MAX_QUEUED } from "./events.js";

type Row = NewAction & { id: number };

describe("SSE /api/events", () => {
  let store: Store;
  let server: Server;
  let streams: EventStreams;
  let port = 0;
  const listeners = new Set<(r: Row) => void>();
  const approvals = new ApprovalsEngine();

  /** Records a row as the audit writer would: stored, then announced. */
  const record = (n: Partial<NewAction> = {}): Row => {
    const row: NewAction = { time: Date.now(), verdict: "allow", endpoint: "https.api", family: "http", summary: "GET /x", ...n };
    const id = store.actions.insert(row);
    const r = { ...row, id };
    for (const l of listeners) l(r);
    return r;
  };

  before(async () => {
    store = openMemoryStore();
    const deps = {
      store,
      approvals,
      subscribeActions: (l: (r: Row) => void) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
      flushAudit: () => {},
      log: createLogger({ level: "error", write: () => {} }),
    } as unknown as WebDeps;
    streams = new EventStreams(deps);
    server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      streams.open({ req, res, query: url.searchParams } as unknown as Ctx);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });

  after(() => {
    streams.closeAll();
    server.close();
    server.closeAllConnections();
    store.close();
  });

  /** Connects and collects parsed events until `done` says stop. */
  function connect(path: string, headers: Record<string, string>, done: (events: { event: string; id?: string; data: string }[]) => boolean) {
    return new Promise<{ event: string; id?: string; data: string }[]>((resolve, reject) => {
      const events: { event: string; id?: string; data: string }[] = [];
      let buf = "";
      const req = request({ host: "127.0.0.1", port, path, headers }, (res) => {
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          buf += c;
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const ev: { event: string; id?: string; data: string } = { event: "message", data: "" };
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) ev.event = line.slice(7);
              else if (line.startsWith("id: ")) ev.id = line.slice(4);
              else if (line.startsWith("data: ")) ev.data = line.slice(6);
            }
            if (ev.data !== "" || ev.event !== "message") events.push(ev);
          }
          if (done(events)) {
            req.destroy();
            resolve(events);
          }
        });
        res.on("end", () => resolve(events));
      });
      req.on("error", (e) => (events.length > 0 ? resolve(events) : reject(e)));
      req.end();
    });
  }

  const waitFor = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  };

  it("delivers every row at 2,500 events/s (5× the target) in order, none dropped", async () => {
    const N = 2500;
    const got = connect("/", {}, (ev) => ev.filter((e) => e.event === "action").length >= N);
    await waitFor(() => streams.size === 1);
    const first = store.actions.list({ limit: 1 }).rows[0]?.id ?? 0;
    for (let sent = 0; sent < N; ) {
      for (let k = 0; k < 5 && sent < N; k++, sent++) record({ summary: `GET /n/${sent}` });
      await new Promise((r) => setTimeout(r, 2));
    }
    const events = (await got).filter((e) => e.event === "action");
    assert.equal(events.length, N);
    events.forEach((e, i) => {
      assert.equal(Number(e.id), first + 1 + i);
      assert.equal(JSON.parse(e.data).summary, `GET /n/${i}`);
    });
  });

  it("resumes from Last-Event-ID: stored rows first, then live, no gap or duplicate", async () => {
    await waitFor(() => streams.size === 0);
    const rows = Array.from({ length: 30 }, () => record());
    const from = rows[19]!.id;
    let live: Row | undefined;
    const events = await connect("/", { "last-event-id": String(from) }, (ev) => {
      if (ev.length === 10 && !live) setImmediate(() => (live = record({ summary: "live" })));
      return ev.length >= 11;
    });
    assert.deepEqual(
      events.map((e) => Number(e.id)),
      [...rows.slice(20).map((r) => r.id), live!.id],
    );
    const viaQuery = await connect(`/?after=${rows[27]!.id}`, {}, (ev) => ev.length >= 3);
    assert.deepEqual(viaQuery.slice(0, 2).map((e) => Number(e.id)), [rows[28]!.id, rows[29]!.id]);
  });

  it("streams approval events", async () => {
    await waitFor(() => streams.size === 0);
    const ctl = new AbortController();
    const got = connect("/", {}, (ev) => ev.some((e) => e.event === "approval"));
    await waitFor(() => streams.size === 1);
    const run = approvals.run({ endpoint: "https.api", rule: "w", summary: "POST /x" }, [{ name: "dashboard", kind: "human", timeoutMs: 5000, onTimeout: "deny", requireApprovers: 1, failMode: "closed" }], ctl.signal);
    const ev = (await got).find((e) => e.event === "approval")!;
    assert.equal(JSON.parse(ev.data).type, "pending");
    assert.equal(JSON.parse(ev.data).approval.summary, "POST /x");
    ctl.abort();
    await run;
  });

  it("ends a stream whose queue overflows with event: overflow", async () => {
    await waitFor(() => streams.size === 0);
    const got = connect("/", {}, (ev) => ev.some((e) => e.event === "overflow"));
    await waitFor(() => streams.size === 1);
    // More rows in one tick than a client may have queued.
    const fake: Row = { id: 0, time: Date.now(), verdict: "allow" };
    for (let i = 0; i <= MAX_QUEUED; i++) for (const l of listeners) l({ ...fake, id: i + 1 });
    const events = await got;
    assert.equal(events.at(-1)!.event, "overflow");
    await waitFor(() => streams.size === 0);
    assert.equal(streams.size, 0, "the client was dropped");
  });
});
