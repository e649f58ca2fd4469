/**
 * Differential tests: the closure compiler must give exactly what cel-js
 * gives — the same boolean, or an error in both — for every condition it
 * accepts, over many randomised activations.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ASTNode } from "@marcbachmann/cel-js";
import type { Family } from "../action.js";
import { celValue, familyEnv, RE2_MATCHES_FN } from "./env.js";
import { jitCompile } from "./jit.js";
import { prng } from "../../testing/prng.js";

const CONDITIONS: Record<Family, string[]> = {
  http: [
    "http.method == 'post'",
    "http.method in ['get', 'head']",
    "http.method != 'get' && http.path.startsWith('/v1/')",
    "http.path.endsWith('/refund') || http.path.contains('admin')",
    "http.path in ['/a', '/b'] || !(http.method == 'delete')",
    "'X-A' in http.headers && http.headers['X-A'][0] == 'x'",
    "http.headers['X-A'][1] == 'y'",
    "http.query.page[0] == '2'",
    "has(http.query.page) && size(http.query.page) > 1",
    "size(http.body) >= 5 && http.body.contains('secret')",
    "http.path.matches('^/v[0-9]+/items/[a-z]+$')",
    "http.body.matches('(?i)password')",
    "matches(http.path, 'a+b')",
    "http.query.exists(k, k.startsWith('p'))",
    "http.query.all(k, size(http.query[k]) == 1)",
    "http.query.exists_one(k, k == 'page')",
    "http.headers['X-A'].exists(v, v == 'y') || http.method == 'get'",
    "http.method == 'get' ? http.path == '/' : http.path != '/'",
    "size(http.headers) == 2",
    "http.query.page[0] == '2' || http.method == 'get'",
    "http.query.nope[0] == 'x' && http.method == 'put'",
    "http.query.nope[0] == 'x' || http.method == 'get'",
    "[http.method, http.path] == ['get', '/']",
  ],
  k8s: [
    "k8s.verb in ['create', 'delete'] && k8s.resource == 'pods' && k8s.name.startsWith('debug-')",
    "k8s.resource in ['pods/exec', 'pods/attach'] && k8s.params.stdin == 'true'",
    "k8s.resource in ['pods/exec', 'pods/attach'] && 'stdin' in k8s.params && k8s.params.stdin == 'true'",
    "!k8s.name.startsWith('debug-') && !k8s.resource.endsWith('/exec')",
    "k8s.namespace in ['app', 'kube-system'] || k8s.namespace.startsWith('flux')",
    "k8s.query.command.exists(c, c == 'env')",
    "k8s.group == '' && k8s.verb != 'meta'",
  ],
  sql: [
    "sql.verb in ['select', 'show', 'explain']",
    "sets.intersects(sql.tables, ['users', 'tokens'])",
    "sets.contains(sql.tables, ['users']) && sets.equivalent(sql.verbs, ['select'])",
    "sql.functions.exists(f, f.startsWith('dblink_'))",
    "'kysely_migration' in sql.tables",
    "sql.statement.matches('(?is)copy.*to program')",
    "sql.statement.matches('(?i)\\\\b(secret|password|token)\\\\b') && sql.verb == 'select'",
    "size(sql.tables) > 2 || sql.database == 'prod'",
    "sql.tables[0] == 'users'",
    "sql.tables[5] == 'users' || sql.verb == 'select'",
    "op.class in ['write', 'delete'] && now.hour >= 9 && now.hour < 18",
    "now.weekday in ['saturday', 'sunday'] || agent.profile == 'ci'",
  ],
  ssh: [
    "ssh.verb == 'forward' && ssh.forward_port == 5432",
    "ssh.forward_port > 1024 && ssh.forward_port <= 65535",
    "ssh.verb == 'exec' && ssh.command.startsWith('git-receive-pack')",
    "ssh.stdin.contains('rm -rf /')",
    "ssh.verb == 'subsystem' && ssh.subsystem == 'sftp'",
  ],
};


function activations(family: Family, rnd: () => number): Record<string, object>[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out: Record<string, object>[] = [];
  for (let i = 0; i < 60; i++) {
    const ctx = {
      op: celValue("op", { class: pick(["read", "write", "delete", "admin", "exec"]) }),
      agent: celValue("agent", { device: pick(["", "laptop-1"]), profile: pick(["ci", "dev"]) }),
      now: celValue("now", { year: 2026n, month: 11n, day: 22n, hour: BigInt(Math.floor(rnd() * 24)), minute: 0n, weekday: pick(["monday", "saturday", "sunday"]), date: "2026-11-22", time: "00:00" }),
    };
    const headers: Record<string, string[]> = {};
    if (rnd() < 0.6) headers["X-A"] = rnd() < 0.5 ? ["x"] : ["x", "y"];
    if (rnd() < 0.5) headers["Content-Type"] = ["application/json"];
    const query: Record<string, string[]> = {};
    if (rnd() < 0.6) query.page = rnd() < 0.5 ? ["2"] : ["2", "3"];
    if (rnd() < 0.3) query.per = ["1"];
    if (rnd() < 0.2) Object.defineProperty(query, "constructor", { value: ["x"], enumerable: true });
    switch (family) {
      case "http":
        out.push({
          ...ctx,
          http: celValue("http", {
            method: pick(["get", "post", "put", "delete", "head"]),
            path: pick(["/", "/v1/items/abc", "/v2/items/x9", "/admin/x", "/a", "/charges/1/refund", "/aab", "/b"]),
            query,
            headers,
            body: pick(["", "secret stuff", "my PassWord", "\u{1F600}x", "hello"]),
            body_json: {},
          }),
        });
        break;
      case "k8s":
        out.push({
          ...ctx,
          k8s: celValue("k8s", {
            verb: pick(["get", "create", "delete", "list", "meta"]),
            resource: pick(["pods", "pods/exec", "pods/attach", "secrets", ""]),
            namespace: pick(["app", "flux-system", "default", ""]),
            name: pick(["debug-1", "web-2", ""]),
            group: pick(["", "apps"]),
            params: rnd() < 0.5 ? { stdin: pick(["true", "false"]) } : {},
            query: rnd() < 0.5 ? { command: pick([["env"], ["ls", "-la"], []]) } : {},
          }),
        });
        break;
      case "sql":
        out.push({
          ...ctx,
          sql: celValue("sql", {
            verb: pick(["select", "insert", "drop"]),
            verbs: pick([["select"], ["select", "delete"], []]),
            tables: pick([["users"], ["orders", "users", "lines"], [], ["kysely_migration"]]),
            functions: pick([["dblink_connect"], ["now"], []]),
            statement: pick(["select * from users", "COPY x TO PROGRAM 'sh'", "select token from t", "SELECT PASSWORD"]),
            database: pick(["prod", "dev", ""]),
          }),
        });
        break;
      case "ssh":
        out.push({
          ...ctx,
          ssh: celValue("ssh", {
            verb: pick(["forward", "exec", "subsystem", "pty"]),
            command: pick(["git-receive-pack 'x'", "uname -a", ""]),
            subsystem: pick(["sftp", ""]),
            forward_host: "db",
            forward_port: pick([0, 22, 5432, 8080, 70000]),
            user: "u",
            stdin: pick(["", "rm -rf / --no", "make"]),
          }),
        });
        break;
    }
  }
  return out;
}

function rewriteMatches(n: unknown): void {
  if (!n || typeof n !== "object") return;
  if (Array.isArray(n)) return n.forEach(rewriteMatches);
  const node = n as { op?: string; args: unknown };
  if (node.op === "rcall" && Array.isArray(node.args) && node.args[0] === "matches") node.args[0] = RE2_MATCHES_FN;
  rewriteMatches(node.args);
}

function outcome(f: () => unknown): string {
  try {
    return `value:${String(f())}`;
  } catch {
    return "error";
  }
}

describe("jit: agrees with cel-js", () => {
  const rnd = prng(20261122);
  for (const family of Object.keys(CONDITIONS) as Family[]) {
    const fe = familyEnv(family);
    const acts = activations(family, rnd);
    for (const src of CONDITIONS[family]) {
      it(`${family}: ${src}`, () => {
        const program = fe.env.parse(src);
        rewriteMatches(program.ast);
        assert.ok(program.check().valid, `does not type-check: ${src}`);
        const jit = jitCompile(program.ast as ASTNode, fe.re2);
        assert.ok(jit, `the JIT should handle: ${src}`);
        let values = 0;
        for (const act of acts) {
          const want = outcome(() => program(act));
          const got = outcome(() => jit(act));
          assert.equal(got, want, `${src}\nactivation: ${JSON.stringify(act, (_k, v) => (typeof v === "bigint" ? `${v}n` : v instanceof Map ? Object.fromEntries(v) : v))}`);
          if (want !== "error") values++;
        }
        assert.ok(values > 0, "every condition should evaluate cleanly on some activation");
      });
    }
  }
  it("declines what it does not handle, so cel-js evaluates it", () => {
    const fe = familyEnv("http");
    for (const src of ["http.body_json.archived == true", "size(http.body) + 1 > 2", "{'a': 1}['a'] == 1", "string(size(http.path)) == '1'"]) {
      const program = fe.env.parse(src);
      assert.equal(jitCompile(program.ast as ASTNode, fe.re2), undefined, src);
    }
  });
});
