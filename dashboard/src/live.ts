/**
 * One shared EventSource on /api/events for the whole page. Subscribers
 * register per event type (`action`, `approval`). The browser reconnects on
 * its own after a dropped stream (sending `Last-Event-ID`, from which the
 * server replays what was missed); when it gives up (readyState CLOSED, e.g.
 * the gateway restarted or answered an error) we reopen with backoff and pass
 * the last event id as `?after=`, since a fresh EventSource cannot set
 * headers. On `overflow` (this client fell too far behind) the server ends
 * the stream: subscribers to `resync` reload their lists, and we reconnect
 * from now.
 */

export type LiveStatus = "connecting" | "open" | "reconnecting";
type Handler = (data: unknown, id: string) => void;

const handlers = new Map<string, Set<Handler>>();
const statusListeners = new Set<(s: LiveStatus) => void>();
let source: EventSource | null = null;
let lastEventId = "";
let status: LiveStatus = "connecting";
let retryTimer: ReturnType<typeof setTimeout> | null = null;
let backoff = 500;
let users = 0;

function setStatus(s: LiveStatus): void {
  if (s === status) return;
  status = s;
  for (const l of statusListeners) l(s);
}

function dispatch(type: string, ev: MessageEvent): void {
  if (ev.lastEventId) lastEventId = ev.lastEventId;
  const set = handlers.get(type);
  if (!set || set.size === 0) return;
  let data: unknown;
  try {
    data = JSON.parse(String(ev.data));
  } catch {
    return;
  }
  for (const h of set) h(data, ev.lastEventId);
}

function attach(type: string): void {
  if (type === "resync") return;
  source?.addEventListener(type, (ev) => dispatch(type, ev as MessageEvent));
}

function open(): void {
  if (source || users === 0) return;
  const url = lastEventId ? `/api/events?after=${encodeURIComponent(lastEventId)}` : "/api/events";
  const es = new EventSource(url, { withCredentials: true });
  source = es;
  setStatus(status === "open" ? "reconnecting" : status);
  es.onopen = () => {
    backoff = 500;
    setStatus("open");
  };
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      es.close();
      if (source === es) source = null;
      setStatus("reconnecting");
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = setTimeout(() => {
        retryTimer = null;
        open();
      }, backoff);
      backoff = Math.min(backoff * 2, 10_000);
    } else {
      setStatus("reconnecting");
    }
  };
  es.addEventListener("overflow", () => {
    lastEventId = "";
    es.close();
    if (source === es) source = null;
    for (const h of handlers.get("resync") ?? []) h(null, "");
    setStatus("reconnecting");
    retryTimer = setTimeout(() => {
      retryTimer = null;
      open();
    }, 200);
  });
  for (const type of handlers.keys()) attach(type);
}

/** Subscribes to one event type; returns the unsubscribe function. */
export function subscribe(type: string, h: Handler): () => void {
  let set = handlers.get(type);
  const fresh = !set;
  if (!set) handlers.set(type, (set = new Set()));
  set.add(h);
  users++;
  if (fresh && source) attach(type);
  open();
  return () => {
    set.delete(h);
    users--;
    if (users === 0) {
      // Keep the connection briefly, so page switches do not drop events.
      setTimeout(() => {
        if (users === 0 && source) {
          source.close();
          source = null;
        }
      }, 2000);
    }
  };
}

export function onStatus(l: (s: LiveStatus) => void): () => void {
  statusListeners.add(l);
  l(status);
  return () => statusListeners.delete(l);
}

export function liveStatus(): LiveStatus {
  return status;
}
