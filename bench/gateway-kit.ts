/**
 * The assembled gateway as the benchmarks run it: in this process, logs
 * kept in memory (shown only when a run fails), and a tally of the audit
 * rows it commits so a bench can check its sanity probe was recorded.
 */
import type { RunningGateway } from "../src/gateway/gateway.js";

/** Committed audit rows so far, and the last one as "<verdict> <rule>". */
export interface AuditTally {
  count: number;
  last: string;
}

/**
 * Starts the gateway on `configPath`; its close and the tally's
 * subscription are pushed to the front of `cleanups`.
 */
export async function startBenchGateway(
  configPath: string,
  logs: string[],
  cleanups: (() => Promise<void> | void)[],
): Promise<{ gw: RunningGateway; tally: AuditTally }> {
  const { startGateway } = await import("../src/gateway/gateway.js");
  const { createLogger } = await import("../src/gateway/log.js");
  const gw = await startGateway({ configPath, watch: false, log: createLogger({ level: "warn", pretty: false, write: (l) => void logs.push(l) }) });
  cleanups.unshift(() => gw.close(1000));
  const tally: AuditTally = { count: 0, last: "" };
  cleanups.unshift(
    gw.subscribeActions((row) => {
      tally.count++;
      tally.last = `${row.verdict} ${row.rule ?? ""}`.trim();
    }),
  );
  return { gw, tally };
}
