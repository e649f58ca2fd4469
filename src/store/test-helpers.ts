/** Shared fixtures for the store's tests (not used by production code). */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { NewAction, Verdict } from "./actions.js";

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "clawpatrol-store-"));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Permission bits of a path. */
export function modeOf(p: string): number {
  return fs.statSync(p).mode & 0o777;
}

export const DEVICES = ["laptop", "ci", "build-box"] as const;
export const PROFILES = ["default", "ops"] as const;
export const ENDPOINTS = ["https.github", "kubernetes.prod", "postgres.main", "https.anthropic"] as const;
export const RULES = ["", "read-only", "no-secrets", "deploys", "approve-writes"] as const;
export const FAMILY_OF: Record<string, string> = {
  "https.github": "http",
  "kubernetes.prod": "k8s",
  "postgres.main": "sql",
  "https.anthropic": "http",
};
const VERDICT_CYCLE: Verdict[] = ["allow", "allow", "deny", "approve", "allow", "passthrough", "error"];

/** A deterministic, varied action; `i` picks every field so filters have something to split. */
export function sampleAction(i: number, time: number): NewAction {
  const endpoint = ENDPOINTS[i % ENDPOINTS.length]!;
  const family = FAMILY_OF[endpoint]!;
  const path = i % 10 === 0 ? `/repos/acme/100%_done/${i}` : `/repos/acme/widget/issues/${i}`;
  return {
    time,
    device: DEVICES[i % DEVICES.length]!,
    profile: PROFILES[i % PROFILES.length]!,
    transport: "proxy",
    endpoint,
    family,
    host: family === "sql" ? "db.internal" : endpoint === "https.github" ? "api.github.com" : "k8s.example.test",
    credential: "github",
    rule: RULES[i % RULES.length]!,
    verdict: VERDICT_CYCLE[i % VERDICT_CYCLE.length]!,
    reason: i % 7 === 2 ? "writes need approval" : "",
    facets: { method: i % 3 === 0 ? "post" : "get", path, n: i },
    summary: family === "sql" ? `SELECT * FROM t${i}` : `GET ${path}`,
    status: 200,
    latencyMs: 1.25,
    bytesIn: 100 + i,
    bytesOut: 2000 + i,
    reqHeaders: { "User-Agent": "curl/8", Authorization: "***" },
    reqBody: null,
    respHeaders: { "Content-Type": "application/json" },
    respBody: `{"id":${i}}`,
    flags: [],
  };
}
