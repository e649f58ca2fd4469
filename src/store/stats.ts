/**
 * Read-only aggregates over the audit log for the operator API: rule hit
 * counts, time-bucketed traffic, per-device/endpoint/rule breakdowns, and
 * the devices seen recently. Counting is SQL (GROUP BY); medians need the
 * values, so latency samples come back raw (bounded) for the caller.
 */
import type { Database, Statement } from "better-sqlite3";

export interface RuleHits {
  rule: string;
  hits: number;
  lastHit: number;
}

export interface BucketCounts {
  /** Bucket index from `since` (0-based). */
  bucket: number;
  requests: number;
  denies: number;
  approvals: number;
}

export interface KeyCounts {
  key: string;
  requests: number;
  denies: number;
}

export interface SeenDevice {
  device: string;
  profile: string;
  transport: string;
  lastSeen: number;
}

/** `[bucket, endpoint, latency]` triples, as {@link StatsRepo.latencies} returns them. */
export type LatencySample = [bucket: number, endpoint: string, latencyMs: number];

/** Most latency samples read for one analytics answer (beyond it, an even sample by id). */
export const MAX_LATENCY_SAMPLES = 200_000;

const APPROVED = "(verdict = 'approve' OR approvals <> '[]')";

export class StatsRepo {
  private readonly ruleHitsStmt: Statement<[], RuleHits>;
  private readonly countStmt: Statement<[], number>;
  private readonly bucketsStmt: Statement<[number, number, number, number], BucketCounts>;
  private readonly byDeviceStmt: Statement<[number, number], KeyCounts>;
  private readonly byEndpointStmt: Statement<[number, number], KeyCounts>;
  private readonly byRuleStmt: Statement<[number, number], { key: string; hits: number }>;
  private readonly latencyCountStmt: Statement<[number, number], number>;
  private readonly latencyStmt: Statement<[number, number, number, number, number], LatencySample>;
  private readonly seenStmt: Statement<[number, number], SeenDevice>;

  constructor(db: Database) {
    // `rule <> ''` lets SQLite use the partial index idx_actions_rule_time.
    this.ruleHitsStmt = db.prepare("SELECT rule, COUNT(*) AS hits, MAX(time) AS lastHit FROM actions WHERE rule <> '' GROUP BY rule");
    this.countStmt = db.prepare<[], number>("SELECT COUNT(*) FROM actions").pluck();
    this.bucketsStmt = db.prepare(
      `SELECT CAST((time - ?) / ? AS INTEGER) AS bucket, COUNT(*) AS requests, SUM(verdict = 'deny') AS denies, SUM(${APPROVED}) AS approvals ` +
        "FROM actions WHERE time >= ? AND time < ? GROUP BY bucket ORDER BY bucket",
    );
    this.byDeviceStmt = db.prepare(
      "SELECT device AS key, COUNT(*) AS requests, SUM(verdict = 'deny') AS denies FROM actions " +
        "WHERE time >= ? AND time < ? GROUP BY device ORDER BY requests DESC LIMIT 100",
    );
    this.byEndpointStmt = db.prepare(
      "SELECT endpoint AS key, COUNT(*) AS requests, SUM(verdict = 'deny') AS denies FROM actions " +
        "WHERE time >= ? AND time < ? GROUP BY endpoint ORDER BY requests DESC LIMIT 100",
    );
    this.byRuleStmt = db.prepare(
      "SELECT rule AS key, COUNT(*) AS hits FROM actions WHERE rule <> '' AND time >= ? AND time < ? GROUP BY rule ORDER BY hits DESC LIMIT 100",
    );
    this.latencyCountStmt = db.prepare<[number, number], number>("SELECT COUNT(*) FROM actions WHERE time >= ? AND time < ? AND latency_ms IS NOT NULL").pluck();
    this.latencyStmt = db
      .prepare<[number, number, number, number, number], LatencySample>(
        "SELECT CAST((time - ?) / ? AS INTEGER), endpoint, latency_ms FROM actions WHERE time >= ? AND time < ? AND latency_ms IS NOT NULL AND id % ? = 0",
      )
      .raw();
    this.seenStmt = db.prepare(
      "SELECT device, profile, transport, MAX(time) AS lastSeen FROM actions WHERE device <> '' AND time >= ? GROUP BY device ORDER BY lastSeen DESC LIMIT ?",
    );
  }

  /** Hits and last hit per rule name, over the whole retained log. */
  ruleHits(): RuleHits[] {
    return this.ruleHitsStmt.all();
  }

  /** Rows in the audit log. */
  actionCount(): number {
    return this.countStmt.get() ?? 0;
  }

  /** Per-bucket counts in `[since, until)`; buckets without rows are absent. */
  buckets(since: number, until: number, bucketMs: number): BucketCounts[] {
    return this.bucketsStmt.all(since, bucketMs, since, until);
  }

  byDevice(since: number, until: number): KeyCounts[] {
    return this.byDeviceStmt.all(since, until);
  }

  byEndpoint(since: number, until: number): KeyCounts[] {
    return this.byEndpointStmt.all(since, until);
  }

  byRule(since: number, until: number): { key: string; hits: number }[] {
    return this.byRuleStmt.all(since, until);
  }

  /** Latencies in `[since, until)` with their bucket and endpoint; evenly thinned past {@link MAX_LATENCY_SAMPLES}. */
  latencies(since: number, until: number, bucketMs: number): LatencySample[] {
    const n = this.latencyCountStmt.get(since, until) ?? 0;
    const every = Math.max(1, Math.ceil(n / MAX_LATENCY_SAMPLES));
    return this.latencyStmt.all(since, bucketMs, since, until, every);
  }

  /** Devices with audited actions since `since`, most recent first. */
  seenDevices(since: number, limit = 500): SeenDevice[] {
    return this.seenStmt.all(since, limit);
  }
}
