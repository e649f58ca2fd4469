/**
 * Pieces every plugin module of one kind shares: the cross-cutting fields
 * (the reference's "framework attributes" — `tunnel` on every endpoint,
 * `share`/`keepalive`/`via`/`credential` on every tunnel, ...), typed
 * accessors for decoded values, and the validators several types run.
 *
 * Keeping them here means a type module lists only what is its own, and a
 * new cross-cutting field is one line in one table.
 */
import type { Diagnostic, SourceRange } from "../config/diagnostics.js";
import { warning } from "../config/diagnostics.js";
import type { DecodedValue, FieldSpec, RefValue, ValidateContext } from "./schema.js";
import { isRef } from "./schema.js";
import { checkHostEntry, goQuote, parseDuration, reduceUrlToHost } from "./formats.js";

/** Anything decoded from a block body: plugin blocks and singletons alike. */
export interface DecodedBody {
  fields: Record<string, DecodedValue>;
  fieldRanges: Record<string, SourceRange>;
  defRange: SourceRange;
}

// ---------------------------------------------------------------------------
// Shared field tables

/** Fields every endpoint type accepts (spread into each endpoint spec). */
export const ENDPOINT_COMMON_FIELDS: Record<string, FieldSpec> = {
  tunnel: {
    type: { ref: "tunnel" },
    doc:
      "Reach the upstream through this tunnel instead of dialing it directly. The agent still dials the endpoint's " +
      "host names; the gateway answers their DNS with a virtual IP and forwards through the tunnel.",
  },
  description: {
    type: "string",
    doc: "Free text saying what the endpoint is for. Shown in the agent's access manifest and the dashboard.",
  },
  retention: {
    type: "string",
    doc:
      'How long this endpoint\'s action log rows are kept, as a duration ("168h"); "0" or "off" keeps them forever. ' +
      "Overrides `gateway.actions_keep` for this endpoint.",
  },
};

/**
 * Fields every credential type accepts that the loader, not the type,
 * interprets: the credential→endpoint binding and the HTTP placeholder
 * discriminator. Type specs do not declare them; the loader decodes them
 * for every credential and rejects `placeholder` on types whose
 * `discriminators` lack it.
 */
export const CREDENTIAL_LOADER_FIELDS: Record<string, FieldSpec> = {
  endpoint: {
    type: { ref: "endpoint" },
    doc: "The endpoint this credential authenticates against. Set this or `endpoints`, not both.",
  },
  endpoints: {
    type: { list: { ref: "endpoint" } },
    doc:
      "Several endpoints the same secret authenticates against (e.g. the HTTPS and native surfaces of one ClickHouse " +
      "cluster). Set this or `endpoint`, not both.",
  },
  placeholder: {
    type: "string",
    doc:
      "Dispatch discriminator for HTTP-auth credentials: when a profile binds several credentials at one endpoint, the " +
      "one whose placeholder appears in the request's auth slot is used. Only accepted by types whose discriminators " +
      "include `placeholder`; a profile entry may override it.",
  },
};

/** Fields every credential type accepts (spread into each credential spec). */
export const CREDENTIAL_COMMON_FIELDS: Record<string, FieldSpec> = {
  description: {
    type: "string",
    doc: "Free text saying what the credential is for. Shown in the agent's access manifest and the dashboard.",
  },
};

/** Values of a tunnel's `share` field. */
export const TUNNEL_SHARE_MODES = ["singleton", "per_endpoint", "per_conn"] as const;

/** Fields every tunnel type accepts (spread into each tunnel spec). */
export const TUNNEL_COMMON_FIELDS: Record<string, FieldSpec> = {
  share: {
    type: "string",
    enum: TUNNEL_SHARE_MODES,
    doc:
      'How many running instances the tunnel has: "singleton" (one for everything), "per_endpoint" (one per ' +
      'endpoint using it) or "per_conn" (one per connection, closed with it). The default depends on the type.',
  },
  keepalive: {
    type: "string",
    default: "5m",
    doc:
      'How long an idle instance stays up after its last user leaves, as a duration ("10m"); "0" closes it at once ' +
      'and "always" keeps it up for the life of the policy.',
  },
  via: {
    type: { ref: "tunnel" },
    doc: "Dial this tunnel's own transport through another tunnel (e.g. a bastion reached through a port-forward).",
  },
  credential: {
    type: { ref: "credential" },
    doc:
      "A credential that authenticates the tunnel's own transport (bastion login, cluster bearer, tailnet identity) — " +
      "not the one injected into agent requests.",
  },
};

// ---------------------------------------------------------------------------
// Typed accessors

/** The string value of a field, if set to a string. */
export function getString(b: DecodedBody, name: string): string | undefined {
  const v = b.fields[name];
  return typeof v === "string" ? v : undefined;
}

/** The boolean value of a field, if set to a boolean. */
export function getBool(b: DecodedBody, name: string): boolean | undefined {
  const v = b.fields[name];
  return typeof v === "boolean" ? v : undefined;
}

/** The numeric value of a field, if set to a number. */
export function getNumber(b: DecodedBody, name: string): number | undefined {
  const v = b.fields[name];
  return typeof v === "number" ? v : undefined;
}

/** The string list of a field, if set to a list of strings. */
export function getStrings(b: DecodedBody, name: string): string[] | undefined {
  const v = b.fields[name];
  return Array.isArray(v) && v.every((x) => typeof x === "string") ? (v as string[]) : undefined;
}

/** The string map of a field, if set to a map. */
export function getMap(b: DecodedBody, name: string): Record<string, string> | undefined {
  const v = b.fields[name];
  if (typeof v !== "object" || v === null || Array.isArray(v) || isRef(v)) return undefined;
  return v as Record<string, string>;
}

/** The reference a field holds, if it holds one. */
export function getRef(b: DecodedBody, name: string): RefValue | undefined {
  const v = b.fields[name];
  return isRef(v) ? v : undefined;
}

/** Whether a field was set at all. */
export function isSet(b: DecodedBody, name: string): boolean {
  return b.fields[name] !== undefined;
}

/** Where a field's value is, falling back to the block's definition range. */
export function rangeOf(b: DecodedBody, name: string): SourceRange {
  return b.fieldRanges[name] ?? b.defRange;
}

/** Host entries as a type claims them: URL-shaped values reduced to `host[:port]`. */
export function hostEntries(values: readonly string[] | undefined): string[] {
  return (values ?? []).map(reduceUrlToHost);
}

// ---------------------------------------------------------------------------
// Shared validators

/**
 * Checks an endpoint's host entries: each well-formed, none repeated
 * (case-insensitively). Diagnostics use the reference's wording and point
 * at the block's definition.
 */
export function validateHosts(
  endpointName: string,
  entries: readonly string[],
  range: SourceRange,
  ctx: ValidateContext,
  opts: { wildcard: boolean } = { wildcard: true },
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const h of entries) {
    const err = checkHostEntry(h, opts);
    if (err) {
      out.push(ctx.error(`Malformed host on endpoint ${goQuote(endpointName)}`, `hosts entry ${goQuote(h)}: ${err}`, range));
      continue;
    }
    const key = h.toLowerCase();
    if (seen.has(key)) {
      out.push(
        ctx.error(`Duplicate host on endpoint ${goQuote(endpointName)}`, `hosts entry ${goQuote(h)} appears more than once`, range),
      );
      continue;
    }
    seen.add(key);
  }
  return out;
}

/** Options for {@link validateDurationField}. */
export interface DurationRule {
  /** Literal words accepted besides durations ("0", "off", "always"). */
  words?: readonly string[];
  /** Reject zero (and negative) durations. */
  positive?: boolean;
  /** Prefix for the summary, e.g. `Invalid` → `Invalid ready_timeout`. */
  what?: string;
}

/**
 * Checks a duration-valued string field. Negative durations are always
 * rejected: every duration in the config is a length of time.
 */
export function validateDurationField(b: DecodedBody, name: string, ctx: ValidateContext, rule: DurationRule = {}): Diagnostic[] {
  const v = getString(b, name);
  if (v === undefined) return [];
  if (rule.words?.includes(v.trim())) return [];
  const words = rule.words && rule.words.length > 0 ? `, or ${rule.words.map(goQuote).join(" / ")}` : "";
  const summary = `${rule.what ?? "Invalid"} ${name}`;
  const p = parseDuration(v.trim());
  if (!p.ok) {
    return [ctx.error(summary, `${name} = ${goQuote(v)}: ${p.error}. Use a duration like "30s", "5m" or "1h"${words}.`, rangeOf(b, name))];
  }
  if (p.value < 0 || (rule.positive && p.value === 0)) {
    const need = rule.positive ? "must be positive" : "must not be negative";
    return [ctx.error(summary, `${name} = ${goQuote(v)}: ${need}. Use a duration like "30s", "5m" or "1h"${words}.`, rangeOf(b, name))];
  }
  return [];
}

/** Checks that an integer field, when set, lies in [min, max]. */
export function validateIntRange(
  b: DecodedBody,
  name: string,
  min: number,
  max: number,
  ctx: ValidateContext,
  summary = `Invalid ${name}`,
): Diagnostic[] {
  const v = getNumber(b, name);
  if (v === undefined) return [];
  if (Number.isInteger(v) && v >= min && v <= max) return [];
  const bound = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`;
  return [ctx.error(summary, `${name} = ${v}: must be a whole number ${bound}.`, rangeOf(b, name))];
}

/** Checks the fields every endpoint shares. */
export function validateEndpointCommon(b: DecodedBody, ctx: ValidateContext): Diagnostic[] {
  return validateDurationField(b, "retention", ctx, { words: ["0", "off"] });
}

/** Checks the fields every tunnel shares. */
export function validateTunnelCommon(b: DecodedBody, ctx: ValidateContext): Diagnostic[] {
  return validateDurationField(b, "keepalive", ctx, { words: ["always", "0"] });
}

/**
 * Warns when a CA field holds something that is not a PEM certificate. A
 * `<<file:...>>` marker still in place means includes have not run yet, so
 * it is left alone.
 */
export function validatePemField(b: DecodedBody, name: string, owner: string): Diagnostic[] {
  const v = getString(b, name);
  if (v === undefined || v.includes("<<file:")) return [];
  if (v.includes("-----BEGIN CERTIFICATE-----")) return [];
  return [
    warning(
      `${name} on ${owner} holds no PEM certificate`,
      `Expected one or more "-----BEGIN CERTIFICATE-----" blocks (inline, or via "<<file:ca.pem>>"); the value will not verify any upstream.`,
      rangeOf(b, name),
    ),
  ];
}
