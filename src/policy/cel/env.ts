/**
 * The typed CEL environments rule conditions compile against — one per family.
 *
 * A rule on an `https` endpoint sees `http.*`, on `postgres` `sql.*`, and so
 * on; referencing another family's variable, calling an unknown function or
 * comparing a string with an int is a type error when the policy loads. Every
 * family also sees the cross-protocol context variables `op`, `agent` and
 * `now` (our extension), so "read-only everywhere" or "no writes outside
 * business hours" is one line in any rule.
 */
import { Environment } from "@marcbachmann/cel-js";
import type { Family } from "../action.js";
import { Re2Cache } from "./re2.js";

/** CEL type names of every field of every variable, as rules see them. */
export const VARIABLE_SCHEMAS = {
  http: {
    method: "string",
    path: "string",
    query: "map<string, list<string>>",
    headers: "map<string, list<string>>",
    body: "string",
    body_json: "dyn",
  },
  k8s: {
    verb: "string",
    resource: "string",
    namespace: "string",
    name: "string",
    group: "string",
    params: "map<string, string>",
    query: "map<string, list<string>>",
  },
  sql: {
    verb: "string",
    verbs: "list<string>",
    tables: "list<string>",
    functions: "list<string>",
    statement: "string",
    database: "string",
  },
  ssh: {
    verb: "string",
    command: "string",
    subsystem: "string",
    forward_host: "string",
    forward_port: "int",
    user: "string",
    stdin: "string",
  },
  op: { class: "string" },
  agent: { device: "string", profile: "string" },
  now: {
    year: "int",
    month: "int",
    day: "int",
    hour: "int",
    minute: "int",
    weekday: "string",
    date: "string",
    time: "string",
  },
} as const;

export type VariableName = keyof typeof VARIABLE_SCHEMAS;

/** Variables every family sees besides its own. */
export const CONTEXT_VARIABLES: readonly VariableName[] = ["op", "agent", "now"];

/**
 * Fields whose runtime values are always lower-case. String literals compared
 * against them are lower-cased when the rule compiles, so `http.method ==
 * 'POST'` matches a POST.
 */
export const LOWERCASE_FIELDS: ReadonlySet<string> = new Set([
  "http.method",
  "k8s.verb",
  "sql.verb",
  "sql.verbs",
  "ssh.verb",
  "op.class",
  "now.weekday",
]);

// One class per variable: cel-js checks custom-typed values by constructor,
// which is both a runtime type guard and faster than schema conversion.
class HttpVar {}
class K8sVar {}
class SqlVar {}
class SshVar {}
class OpVar {}
class AgentVar {}
class NowVar {}
class SetsExt {}

const VARIABLE_CLASSES: Record<VariableName, new () => object> = {
  http: HttpVar,
  k8s: K8sVar,
  sql: SqlVar,
  ssh: SshVar,
  op: OpVar,
  agent: AgentVar,
  now: NowVar,
};

const TYPE_NAMES: Record<VariableName, string> = {
  http: "HttpFacets",
  k8s: "K8sFacets",
  sql: "SqlFacets",
  ssh: "SshFacets",
  op: "OpContext",
  agent: "AgentContext",
  now: "TimeContext",
};

/**
 * Converts a JSON-shaped value for CEL: objects become `Map`s. cel-js infers
 * an object's CEL type from its `constructor`, so a plain object with a
 * `"constructor"` key (an agent-controlled query parameter or JSON field)
 * would not read as a map; a `Map` always does.
 */
export function celJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(celJson);
  if (v !== null && typeof v === "object" && !(v instanceof Map)) {
    const m = new Map<string, unknown>();
    for (const k of Object.keys(v)) m.set(k, celJson((v as Record<string, unknown>)[k]));
    return m;
  }
  return v;
}

function celMap(v: unknown): unknown {
  if (v instanceof Map || v === null || typeof v !== "object") return v;
  return new Map(Object.entries(v as Record<string, unknown>));
}

/**
 * Wraps plain field values as the typed object CEL expects for `name`.
 * Map- and dyn-typed fields are converted to `Map`s (see {@link celJson}),
 * int fields to BigInt (CEL ints are 64-bit; cel-js represents them so);
 * pass `only` to convert just the fields a policy reads (the others are never
 * looked at, so they are left as they are).
 */
export function celValue(name: VariableName, fields: object, only?: ReadonlySet<string>): object {
  const out = Object.assign(new VARIABLE_CLASSES[name](), fields) as Record<string, unknown>;
  const schema = VARIABLE_SCHEMAS[name] as Record<string, string>;
  for (const [field, type] of Object.entries(schema)) {
    if (only && !only.has(`${name}.${field}`) && !only.has(`${name}.*`)) continue;
    const v = out[field];
    if (type === "dyn") out[field] = celJson(v);
    else if (type.startsWith("map<")) out[field] = celMap(v);
    else if (type === "int" && typeof v === "number") out[field] = BigInt(Math.trunc(v));
  }
  return out;
}

/** Name of the internal receiver function that implements `matches` with RE2. */
export const RE2_MATCHES_FN = "re2matches";

export interface FamilyEnv {
  family: Family;
  env: Environment;
  re2: Re2Cache;
}

const cache = new Map<Family, FamilyEnv>();

function intersects(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length > b.length) [a, b] = [b, a];
  const set = new Set(b);
  return a.some((x) => set.has(x));
}

/** The (shared, immutable after construction) environment for one family. */
export function familyEnv(family: Family): FamilyEnv {
  const hit = cache.get(family);
  if (hit) return hit;
  const re2 = new Re2Cache();
  const env = new Environment({ homogeneousAggregateLiterals: false });
  for (const name of [family, ...CONTEXT_VARIABLES] as VariableName[]) {
    env.registerType(TYPE_NAMES[name], { ctor: VARIABLE_CLASSES[name], fields: { ...VARIABLE_SCHEMAS[name] } });
    env.registerVariable(name, TYPE_NAMES[name]);
  }
  // CEL's `sets` extension: sets.contains / sets.equivalent / sets.intersects.
  env.registerType("SetsExtension", SetsExt);
  env.registerConstant("sets", "SetsExtension", new SetsExt());
  env.registerFunction("SetsExtension.intersects(list, list): bool", (_s: unknown, a: unknown[], b: unknown[]) =>
    intersects(a, b),
  );
  env.registerFunction("SetsExtension.contains(list, list): bool", (_s: unknown, a: unknown[], b: unknown[]) => {
    const set = new Set(a);
    return b.every((x) => set.has(x));
  });
  env.registerFunction("SetsExtension.equivalent(list, list): bool", (_s: unknown, a: unknown[], b: unknown[]) => {
    const sa = new Set(a);
    const sb = new Set(b);
    return sa.size === sb.size && [...sa].every((x) => sb.has(x));
  });
  // `matches` with RE2 semantics: the receiver form is rewritten to this
  // function at compile time (cel-js's built-in uses JavaScript RegExp); the
  // global form is not built in, so it is registered directly.
  env.registerFunction(`string.${RE2_MATCHES_FN}(string): bool`, (s: string, p: string) => re2.matches(s, p));
  env.registerFunction("matches(string, string): bool", (s: string, p: string) => re2.matches(s, p));
  const fe: FamilyEnv = { family, env, re2 };
  cache.set(family, fe);
  return fe;
}
