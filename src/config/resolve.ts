/**
 * Second loader pass: resolve every typed reference (`https.github`,
 * `bearer_token.orb-test`, `human_approver.ops`) to the declaration it names,
 * per kind, and assemble the {@link Config}.
 *
 * Names are unique within a kind, so the type segment of a reference is a
 * check, not a lookup key: `bearer_token.shared` where an endpoint is expected
 * is reported as "Unknown endpoint" with a note saying what it does name.
 */
import { error, formatPos, formatRange, type Diagnostic, type SourceRange } from "./diagnostics.js";
import type {
  ApproverTypeSpec,
  CredentialTypeSpec,
  EndpointTypeSpec,
  PluginKind,
  RefKind,
  RefValue,
  TunnelTypeSpec,
} from "../types/schema.js";
import { isRef, isRefList } from "../types/schema.js";
import { allTypeNames, approverType, BUILTIN_APPROVER_ROOT, BUILTIN_APPROVERS } from "../types/registry.js";
import { validateDefaults, validateGateway, validatePlugin, validateTransportProfiles } from "./schema/checks.js";
import type { Declarations, RawPluginBlock } from "./decode/toplevel.js";
import { suggest } from "./decode/suggest.js";
import {
  DEFAULT_DEFAULTS,
  type ApproverDecl,
  type Config,
  type CredentialDecl,
  type Defaults,
  type EndpointDecl,
  type ProfileDecl,
  type RuleDecl,
  type TunnelDecl,
} from "./model.js";
import { parseHostEntry } from "./hosts.js";

class Resolver {
  readonly byKind = new Map<PluginKind, Map<string, RawPluginBlock>>();
  readonly typeNames: ReadonlySet<string> = allTypeNames();

  constructor(
    blocks: RawPluginBlock[],
    private readonly diags: Diagnostic[],
  ) {
    for (const b of blocks) {
      const m = this.byKind.get(b.kind) ?? new Map<string, RawPluginBlock>();
      this.byKind.set(b.kind, m);
      m.set(b.block.name, b);
    }
  }

  /**
   * Resolves a reference to a block of `kind`. Problems are reported at the
   * referring block (`owner`), with the reference's own position in the detail.
   */
  resolve(ref: RefValue, kind: RefKind, owner: SourceRange): RawPluginBlock | undefined {
    if (kind === "approver" && ref.type === BUILTIN_APPROVER_ROOT && BUILTIN_APPROVERS.includes(ref.name)) {
      return builtinApprover(ref);
    }
    const named = this.byKind.get(kind) ?? new Map<string, RawPluginBlock>();
    if (ref.type === "") {
      // A bare name: HCL sees an undefined variable unless it is a type name.
      const hit = named.get(ref.name);
      if (this.typeNames.has(ref.name)) {
        this.diags.push(
          error("Invalid reference", `A ${kind} reference has the form <type>.<name>, e.g. ${example(kind)}.`, ref.range),
        );
      } else {
        this.diags.push(
          error(
            "Unknown variable",
            `There is no variable named "${ref.name}".${hit ? ` References are typed: write ${hit.block.type}.${ref.name}.` : ""}`,
            ref.range,
          ),
        );
      }
      return undefined;
    }
    const hit = named.get(ref.name);
    if (hit && (hit.block.type === ref.type || hit.spec.type === ref.type || hit.spec.aliases?.includes(ref.type))) {
      return hit;
    }
    let note = "";
    if (hit) {
      note = ` ${kind} "${ref.name}" is of type ${hit.block.type}: write ${hit.block.type}.${ref.name}.`;
    } else {
      for (const [otherKind, m] of this.byKind) {
        const other = m.get(ref.name);
        if (otherKind !== kind && other && other.block.type === ref.type) {
          note = ` "${ref.type}.${ref.name}" is a ${otherKind} (declared at ${formatRange(other.block.defRange)}), not ${article(kind)} ${kind}.`;
        }
      }
      if (!note) {
        const hint = suggest(ref.name, named.keys());
        if (hint) note = ` Did you mean ${named.get(hint)!.block.type}.${hint}?`;
      }
    }
    this.diags.push(
      error(
        `Unknown ${kind} "${ref.name}"`,
        `No ${kind} named "${ref.name}" is declared in this file.${note} (referenced at ${formatPos(ref.range)})`,
        owner,
      ),
    );
    return undefined;
  }

  /** Checks every reference-typed field of a plugin block resolves. */
  checkRefFields(b: RawPluginBlock): void {
    for (const [name, spec] of Object.entries(b.spec.fields)) {
      const v = b.block.fields[name];
      if (typeof spec.type !== "object") continue;
      const kind = "ref" in spec.type ? spec.type.ref : spec.type.list.ref;
      if (isRef(v)) this.resolve(v, kind, b.block.defRange);
      else if (isRefList(v)) for (const r of v) this.resolve(r, kind, b.block.defRange);
    }
  }
}

/**
 * A built-in approver (`builtin.dashboard`): a human deciding on the
 * dashboard, with no channel notification, needing no block of its own.
 */
function builtinApprover(ref: RefValue): RawPluginBlock {
  return {
    kind: "approver",
    spec: approverType("human_approver")!,
    block: {
      kind: "approver",
      type: BUILTIN_APPROVER_ROOT,
      name: ref.name,
      fields: {},
      fieldRanges: {},
      defRange: ref.range,
      range: ref.range,
    },
    discriminators: {},
  };
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? "an" : "a";
}

function example(kind: RefKind): string {
  switch (kind) {
    case "endpoint":
      return "https.github";
    case "credential":
      return "bearer_token.github";
    case "approver":
      return "human_approver.ops";
    case "tunnel":
      return "local_command.proxy";
  }
}

function decodeDefaults(d: Declarations["defaults"]): Defaults {
  const out: Defaults = { ...DEFAULT_DEFAULTS };
  if (!d) return out;
  const f = d.fields;
  if (typeof f.unknown_host === "string") out.unknownHost = f.unknown_host as Defaults["unknownHost"];
  if (typeof f.llm_fail_mode === "string") out.llmFailMode = f.llm_fail_mode as Defaults["llmFailMode"];
  if (typeof f.llm_cache_ttl === "number") out.llmCacheTtl = f.llm_cache_ttl;
  if (typeof f.human_timeout === "number") out.humanTimeout = f.human_timeout;
  if (typeof f.human_on_timeout === "string") out.humanOnTimeout = f.human_on_timeout as Defaults["humanOnTimeout"];
  if (typeof f.timezone === "string") out.timezone = f.timezone;
  return out;
}

/** Builds the resolved config from pass-one declarations, reporting what does not resolve. */
export function resolveDeclarations(d: Declarations, diags: Diagnostic[]): Config {
  const r = new Resolver(d.blocks, diags);
  diags.push(...validateGateway(d.gateway));
  diags.push(...validateTransportProfiles(d.gateway, d.profiles.map((p) => p.name)));
  diags.push(...validateDefaults(d.defaults));
  for (const p of d.plugins) diags.push(...validatePlugin(p.block));

  const tunnels = new Map<string, TunnelDecl>();
  for (const b of d.blocks) {
    r.checkRefFields(b);
    if (b.kind === "tunnel") {
      tunnels.set(b.block.name, { type: b.block.type, name: b.block.name, spec: b.spec as TunnelTypeSpec, block: b.block });
    }
  }

  const endpoints = new Map<string, EndpointDecl>();
  for (const b of d.blocks) {
    if (b.kind !== "endpoint") continue;
    const spec = b.spec as EndpointTypeSpec;
    const hosts = spec.hostsOf(b.block);
    // Malformed entries are reported by the endpoint type's own validation;
    // here they are only kept out of the host index.
    const hostsOk = hosts.every((h) => parseHostEntry(h) !== undefined);
    if (hosts.length === 0) {
      diags.push(
        error(
          `Endpoint "${b.block.name}" claims no hosts`,
          `Set the host(s) the ${b.block.type} endpoint intercepts (e.g. hosts = ["api.example.com"]).`,
          b.block.defRange,
        ),
      );
    }
    const decl: EndpointDecl = {
      type: b.block.type,
      name: b.block.name,
      spec,
      family: spec.family,
      block: b.block,
      hosts: hostsOk ? hosts : [],
      defaultPort: spec.defaultPort(b.block),
    };
    const tunnelRef = b.block.fields.tunnel;
    if (isRef(tunnelRef)) {
      const t = tunnels.get(tunnelRef.name);
      if (t) decl.tunnel = t;
    }
    endpoints.set(decl.name, decl);
  }

  const credentials = new Map<string, CredentialDecl>();
  for (const b of d.blocks) {
    if (b.kind !== "credential") continue;
    const bound: EndpointDecl[] = [];
    for (const ref of b.binding?.refs ?? []) {
      const hit = r.resolve(ref, "endpoint", b.block.defRange);
      const ep = hit && endpoints.get(hit.block.name);
      if (ep && !bound.includes(ep)) bound.push(ep);
    }
    credentials.set(b.block.name, {
      type: b.block.type,
      name: b.block.name,
      spec: b.spec as CredentialTypeSpec,
      block: b.block,
      endpoints: bound,
      discriminators: b.discriminators,
    });
  }

  const approvers = new Map<string, ApproverDecl>();
  for (const b of d.blocks) {
    if (b.kind !== "approver") continue;
    const decl: ApproverDecl = { type: b.block.type, name: b.block.name, spec: b.spec as ApproverTypeSpec, block: b.block };
    const cred = b.block.fields.credential;
    if (isRef(cred)) {
      const c = credentials.get(cred.name);
      if (c) decl.credential = c;
    }
    approvers.set(decl.name, decl);
  }

  const rules: RuleDecl[] = [];
  for (const raw of d.rules) {
    const eps: EndpointDecl[] = [];
    let ok = true;
    for (const ref of raw.endpointRefs) {
      const hit = r.resolve(ref, "endpoint", raw.defRange);
      const ep = hit && endpoints.get(hit.block.name);
      if (ep) eps.push(ep);
      else ok = false;
    }
    const families = [...new Set(eps.map((e) => e.family))].sort();
    if (families.length > 1) {
      diags.push(
        error(
          `Rule "${raw.name}" targets endpoints from mixed families`,
          `Endpoints span families [${families.join(" ")}]. A rule's CEL condition is evaluated against a single facet's variable set; split into one rule per family.`,
          raw.defRange,
        ),
      );
      ok = false;
    }
    const rule: RuleDecl = {
      name: raw.name,
      endpoints: eps,
      priority: raw.priority,
      disabled: raw.disabled,
      condition: raw.condition,
      approve: [],
      defRange: raw.defRange,
      order: raw.order,
    };
    if (raw.conditionRange) rule.conditionRange = raw.conditionRange;
    if (raw.verdict) rule.verdict = raw.verdict;
    if (raw.reason !== undefined) rule.reason = raw.reason;
    if (raw.credential) {
      const hit = r.resolve(raw.credential, "credential", raw.defRange);
      const c = hit && credentials.get(hit.block.name);
      if (c) rule.credential = c;
      else ok = false;
    }
    for (const ref of raw.approve) {
      const hit = r.resolve(ref, "approver", raw.defRange);
      const a =
        hit && hit.block.type === BUILTIN_APPROVER_ROOT
          ? { type: hit.block.type, name: hit.block.name, spec: hit.spec as ApproverTypeSpec, block: hit.block }
          : hit && approvers.get(hit.block.name);
      if (a) rule.approve.push(a);
      else ok = false;
    }
    if (ok) rules.push(rule);
  }

  const profiles: ProfileDecl[] = [];
  for (const raw of d.profiles) {
    const p: ProfileDecl = { name: raw.name, entries: [], defRange: raw.defRange };
    for (const e of raw.entries) {
      const hit = r.resolve(e.ref, "credential", raw.defRange);
      const c = hit && credentials.get(hit.block.name);
      if (c) p.entries.push({ credential: c, discriminators: e.discriminators, range: e.range });
    }
    profiles.push(p);
  }

  const config: Config = {
    files: [],
    defaults: decodeDefaults(d.defaults),
    endpoints: [...endpoints.values()],
    credentials: [...credentials.values()],
    approvers: [...approvers.values()],
    tunnels: [...tunnels.values()],
    rules,
    profiles,
    plugins: d.plugins.map((p) => ({ name: p.name, block: p.block })),
  };
  if (d.gateway) config.gateway = d.gateway;
  return config;
}
