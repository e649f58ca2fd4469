/**
 * Compiling a loaded {@link Config} into the {@link CompiledPolicy} the
 * decision function walks. Pure: no I/O, deterministic.
 *
 * - every rule's condition is type-checked in its family's CEL environment
 *   (errors point at the rule);
 * - rules are grouped per endpoint and stable-sorted by priority;
 * - each profile gets a host index (exact, `host:port`, wildcards by longest
 *   suffix) over the endpoints its credentials bind, and per-endpoint
 *   credential dispatch tables, with the reference's ambiguity errors.
 */
import { error, type Diagnostic } from "./diagnostics.js";
import type { Config, Discriminators, EndpointDecl, ProfileDecl, RuleDecl } from "./model.js";
import { HostIndex, parseHostEntry } from "./hosts.js";
import { compileCondition } from "../policy/cel/compile.js";
import type {
  CompiledEndpoint,
  CompiledPolicy,
  CompiledProfile,
  CompiledRule,
  DispatchEntry,
} from "../policy/compiled.js";
import type { Discriminator } from "../types/schema.js";

export interface CompileResult {
  policy: CompiledPolicy;
  diagnostics: Diagnostic[];
}

function compileRule(rule: RuleDecl, diags: Diagnostic[]): CompiledRule | undefined {
  const family = rule.endpoints[0]?.family;
  if (!family) return undefined;
  const r = compileCondition(rule.condition, family);
  if (!r.ok) {
    diags.push(error(`Invalid CEL condition on rule "${rule.name}"`, `cel compile: ${r.error.message}`, rule.defRange));
    return undefined;
  }
  const out: CompiledRule = {
    name: rule.name,
    priority: rule.priority,
    order: rule.order,
    condition: r.condition,
    approve: rule.approve.map((a) => a.name),
  };
  if (rule.credential) {
    out.credential = rule.credential.name;
    if (!rule.credential.endpoints.some((e) => rule.endpoints.includes(e))) {
      diags.push({
        severity: "warning",
        summary: `Rule "${rule.name}" can never match`,
        detail: `Its credential predicate names "${rule.credential.name}", which binds none of the rule's endpoints.`,
        range: rule.defRange,
      });
    }
  }
  if (rule.verdict) out.verdict = rule.verdict;
  if (rule.reason !== undefined) out.reason = rule.reason;
  return out;
}

function byPriority(a: CompiledRule, b: CompiledRule): number {
  return b.priority - a.priority || a.order - b.order;
}

/** Builds the per-verb rule lists (see CompiledEndpoint.byGuard). */
function indexByGuard(ep: CompiledEndpoint): void {
  const values = new Set<string>();
  for (const r of ep.rules) for (const v of r.condition.guard?.values ?? []) values.add(v);
  ep.unguarded = ep.rules.filter((r) => !r.condition.guard);
  for (const v of values) ep.byGuard.set(v, ep.rules.filter((r) => !r.condition.guard || r.condition.guard.values.has(v)));
}

function indexHosts(index: HostIndex<CompiledEndpoint>, ep: CompiledEndpoint): void {
  for (const h of ep.decl.hosts) {
    const entry = parseHostEntry(h);
    if (entry) index.add(entry, ep.decl.defaultPort, ep);
  }
}

function merged(block: Discriminators, entry: Discriminators): Discriminators {
  return { ...block, ...entry };
}

function describe(d: Discriminators): string {
  return Object.entries(d)
    .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
    .join(", ");
}

/** Builds one profile's host index and dispatch tables, reporting ambiguities. */
function compileProfile(p: ProfileDecl, endpoints: Map<string, CompiledEndpoint>, diags: Diagnostic[]): CompiledProfile {
  const out: CompiledProfile = { name: p.name, endpoints: new Map(), hosts: new HostIndex(), dispatch: new Map() };
  const seen = new Set<string>();
  for (const entry of p.entries) {
    const c = entry.credential;
    if (seen.has(c.name) && Object.keys(entry.discriminators).length === 0) continue;
    seen.add(c.name);
    for (const key of Object.keys(entry.discriminators) as Discriminator[]) {
      if (!c.spec.discriminators.includes(key)) {
        diags.push(
          error(
            `Profile "${p.name}": ${key} cannot select credential "${c.name}"`,
            `${c.type} credentials are told apart by ${c.spec.discriminators.join(" / ") || "nothing (bind at most one per endpoint)"}, not ${key}.`,
            entry.range,
          ),
        );
      }
    }
    for (const decl of c.endpoints) {
      const ep = endpoints.get(decl.name);
      if (!ep) continue;
      out.endpoints.set(ep.name, ep);
      const list = out.dispatch.get(ep.name) ?? [];
      const discriminators = merged(c.discriminators, entry.discriminators);
      list.push({ credential: c.name, credentialType: c.type, discriminators, fallback: Object.keys(discriminators).length === 0 });
      out.dispatch.set(ep.name, list);
    }
  }
  for (const ep of out.endpoints.values()) indexHosts(out.hosts, ep);
  for (const { key, values } of out.hosts.conflicts()) {
    diags.push(
      error(
        `Profile "${p.name}": host "${key}" is claimed by several endpoints`,
        `Endpoints ${values.map((v) => `"${v.name}"`).join(" and ")} both claim it, so requests to it could not be attributed to one endpoint's rules. Bind only one of them in this profile.`,
        p.defRange,
      ),
    );
  }
  for (const [epName, entries] of out.dispatch) checkDispatch(p, epName, entries, diags);
  return out;
}

/** The reference's dispatch rules: one fallback per (profile, endpoint); discriminators unique. */
function checkDispatch(p: ProfileDecl, endpoint: string, entries: DispatchEntry[], diags: Diagnostic[]): void {
  const fallbacks = entries.filter((e) => e.fallback);
  if (fallbacks.length > 1) {
    const [a, b] = fallbacks as [DispatchEntry, DispatchEntry];
    diags.push(
      error(
        `Profile "${p.name}": multiple no-constraint credentials bind endpoint "${endpoint}"`,
        `Credentials "${a.credential}" and "${b.credential}" both bind endpoint "${endpoint}" in profile "${p.name}" with no dispatch discriminator set on either the credential block or the profile entry. At most one fallback (catchall) credential per (profile, endpoint).`,
        p.defRange,
      ),
    );
  }
  const seen = new Map<string, string>();
  for (const e of entries) {
    if (e.fallback) continue;
    const key = describe(e.discriminators);
    const prev = seen.get(key);
    if (prev && prev !== e.credential) {
      diags.push(
        error(
          `Profile "${p.name}": credentials "${prev}" and "${e.credential}" are indistinguishable at endpoint "${endpoint}"`,
          `Both are selected by ${key}; give each a different discriminator.`,
          p.defRange,
        ),
      );
    }
    seen.set(key, e.credential);
  }
}

/** Compiles a loaded config. Diagnostics are compile-time errors (CEL, dispatch ambiguity). */
export function compilePolicy(config: Config): CompileResult {
  const diags: Diagnostic[] = [];
  const endpoints = new Map<string, CompiledEndpoint>();
  for (const decl of config.endpoints) {
    endpoints.set(decl.name, {
      type: decl.type,
      name: decl.name,
      key: `${decl.type}.${decl.name}`,
      family: decl.family,
      rules: [],
      byGuard: new Map(),
      unguarded: [],
      reads: new Set(),
      readsNow: false,
      readsContext: { op: false, agent: false, now: false },
      needsCelJs: false,
      decl,
    });
  }
  for (const rule of config.rules) {
    const compiled = compileRule(rule, diags);
    if (!compiled || rule.disabled) continue;
    for (const decl of rule.endpoints) {
      const ep = endpoints.get(decl.name);
      if (!ep) continue;
      ep.rules.push(compiled);
      if (!compiled.condition.native) ep.needsCelJs = true;
      for (const r of compiled.condition.reads) {
        ep.reads.add(r);
        const root = r.slice(0, r.indexOf("."));
        if (root === "op" || root === "agent" || root === "now") ep.readsContext[root] = true;
      }
      ep.readsNow = ep.readsContext.now;
    }
  }
  for (const ep of endpoints.values()) {
    ep.rules.sort(byPriority);
    indexByGuard(ep);
  }

  const hosts = new HostIndex<CompiledEndpoint>();
  for (const ep of endpoints.values()) indexHosts(hosts, ep);

  const dispatch = new Map<string, DispatchEntry[]>();
  for (const c of config.credentials) {
    for (const decl of c.endpoints as EndpointDecl[]) {
      const list = dispatch.get(decl.name) ?? [];
      list.push({
        credential: c.name,
        credentialType: c.type,
        discriminators: c.discriminators,
        fallback: Object.keys(c.discriminators).length === 0,
      });
      dispatch.set(decl.name, list);
    }
  }

  const profiles = new Map<string, CompiledProfile>();
  for (const p of config.profiles) profiles.set(p.name, compileProfile(p, endpoints, diags));

  return { policy: { endpoints, profiles, hosts, dispatch, defaults: config.defaults, config }, diagnostics: diags };
}
