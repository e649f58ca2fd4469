/**
 * Pending approvals, shared by the bar on every page and /approvals:
 * GET /api/approvals, then SSE `approval` events (a PendingApprovalInfo is
 * added or updated; a decided/expired one is removed). Re-synced on every
 * reconnect and every 15 s, so a missed event heals itself.
 */
import { useSyncExternalStore } from "react";
import type { ApprovalStreamEvent, DecideResult, PendingApprovalInfo } from "../../src/web/api.ts";
import { api } from "./api.ts";
import { onStatus, subscribe } from "./live.ts";

let items: PendingApprovalInfo[] = [];
const listeners = new Set<() => void>();
let started = false;

function emit(): void {
  for (const l of listeners) l();
}

function set(next: PendingApprovalInfo[]): void {
  items = next.slice().sort((a, b) => a.createdAt - b.createdAt);
  emit();
}

export async function syncApprovals(): Promise<void> {
  try {
    set(await api.get<PendingApprovalInfo[]>("/api/approvals"));
  } catch {
    /* the bar stays as it was; the next sync retries */
  }
}

/**
 * SSE `approval` events (ApprovalStreamEvent): `pending` adds or updates one
 * (a new stage); `decided` records one operator's decision (the approval may
 * need more approvers or move to its next stage, so the list is re-read);
 * `finished` ends it.
 */
export function applyApprovalEvent(data: unknown): void {
  if (!data || typeof data !== "object") return;
  const e = data as ApprovalStreamEvent;
  if (e.type === "pending" && e.approval && typeof e.approval.id === "string") {
    const a = e.approval;
    const i = items.findIndex((x) => x.id === a.id);
    set(i >= 0 ? items.map((x) => (x.id === a.id ? a : x)) : [...items, a]);
  } else if (e.type === "finished") removeApproval(e.id);
  else if (e.type === "decided") scheduleSync();
}

let syncTimer: ReturnType<typeof setTimeout> | null = null;
function scheduleSync(): void {
  if (syncTimer) return;
  syncTimer = setTimeout(() => {
    syncTimer = null;
    void syncApprovals();
  }, 100);
}

export function removeApproval(id: string): void {
  if (!items.some((x) => x.id === id)) return;
  set(items.filter((x) => x.id !== id));
}

function start(): void {
  if (started) return;
  started = true;
  subscribe("approval", (d) => applyApprovalEvent(d));
  let first = true;
  onStatus((s) => {
    if (s === "open") {
      if (!first) void syncApprovals();
      first = false;
    }
  });
  void syncApprovals();
  setInterval(() => {
    const now = Date.now();
    if (items.some((x) => x.expiresAt && x.expiresAt < now - 1000)) set(items.filter((x) => !x.expiresAt || x.expiresAt >= now - 1000));
    void syncApprovals();
  }, 15_000);
}

export function useApprovals(): PendingApprovalInfo[] {
  start();
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    () => items,
  );
}

export async function decide(id: string, verdict: "allow" | "deny", reason?: string): Promise<void> {
  const r = await api.post<DecideResult>(`/api/approvals/${encodeURIComponent(id)}`, reason ? { verdict, reason } : { verdict });
  // The answer lists what is still pending (a multi-stage approval may remain, at its next stage).
  if (r && Array.isArray(r.pending)) set(r.pending);
  else removeApproval(id);
}
