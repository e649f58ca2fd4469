/**
 * The assembled gateway as the benchmarks run it: in this process, logs
 * kept in memory (shown only when a run fails), and a way to read back the
 * audit rows it committed so a bench can check its sanity probe was recorded.
 *
 * The audit is read from the store after a flush, not through a live
 * subscription: a subscriber makes the gateway keep every full row until it
 * is committed and call back per row — what an open dashboard costs, not
 * what the data plane costs — and that would be measured as gateway work.
 */
import type { RunningGateway } from "../src/gateway/gateway.js";

/** Committed audit rows so far (the newest id: ids start at 1 and nothing is deleted during a bench), and the newest as "<verdict> <rule>". */
export interface AuditTally {
  count: number;
  last: string;
}

/**
 * Starts the gateway on `configPath`; its close is pushed to the front of
 * `cleanups`. `audited()` flushes the audit and reads the tally.
 */
export async function startBenchGateway(
  configPath: string,
  logs: string[],
  cleanups: (() => Promise<void> | void)[],
): Promise<{ gw: RunningGateway; audited: () => AuditTally }> {
  const { startGateway } = await import("../src/gateway/gateway.js");
  const { createLogger } = await import("../src/gateway/log.js");
  const gw = await startGateway({ configPath, watch: false, log: createLogger({ level: "warn", pretty: false, write: (l) => void logs.push(l) }) });
  cleanups.unshift(() => gw.close(1000));
  const audited = (): AuditTally => {
    gw.flushAudit();
    const newest = gw.store.actions.list({ limit: 1 }).rows[0];
    return { count: newest?.id ?? 0, last: newest ? `${newest.verdict} ${newest.rule ?? ""}`.trim() : "" };
  };
  return { gw, audited };
}
