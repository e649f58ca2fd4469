/**
 * First loader pass: walk every file's top-level blocks and decode each one
 * on its own — plugin blocks against their type's spec, `rule` and `profile`
 * by their fixed grammar, `gateway` / `defaults` / `plugin` against their
 * schemas. References stay unresolved {@link RefValue}s here; the second pass
 * (../resolve.ts) needs every declaration first.
 */
import { error, formatRange, type Diagnostic, type SourceRange } from "../diagnostics.js";
import type { Attribute, Block, Body, Expr, ParsedFile } from "../hcl/ast.js";
import type {
  DecodedBlock,
  DecodedSingleton,
  Discriminator,
  FieldSpec,
  PluginKind,
  RefValue,
  TypeSpec,
} from "../../types/schema.js";
import { specFor, typesOf } from "../../types/registry.js";
import { DEFAULTS_SCHEMA, GATEWAY_SCHEMA, PLUGIN_SCHEMA } from "../schema/gateway.js";
import type { Discriminators, Verdict } from "../model.js";
import { checkLabels, decodeAttributes, decodeSingleton, rejectBlocks, type DecodeIO } from "./block.js";
import { decodeRef, decodeString, decodeValue } from "./values.js";
import { suggest } from "./suggest.js";

const PLUGIN_KINDS: readonly PluginKind[] = ["endpoint", "credential", "approver", "tunnel"];
const TOP_LEVEL_BLOCKS = ["gateway", "defaults", "plugin", ...PLUGIN_KINDS, "rule", "profile"];
const DISCRIMINATORS: readonly Discriminator[] = ["placeholder", "user", "database"];

/** A plugin block after pass one. */
export interface RawPluginBlock {
  kind: PluginKind;
  spec: TypeSpec;
  block: DecodedBlock;
  /** Credential binding, decoded by the loader for every credential type. */
  binding?: { refs: RefValue[]; attr: "endpoint" | "endpoints" };
  /** Discriminators written on a credential block. */
  discriminators: Discriminators;
}

export interface RawRule {
  name: string;
  defRange: SourceRange;
  endpointRefs: RefValue[];
  priority: number;
  disabled: boolean;
  condition: string;
  conditionRange?: SourceRange;
  credential?: RefValue;
  verdict?: Verdict;
  approve: RefValue[];
  reason?: string;
  order: number;
}

export interface RawProfileEntry {
  ref: RefValue;
  discriminators: Discriminators;
  range: SourceRange;
}

export interface RawProfile {
  name: string;
  defRange: SourceRange;
  entries: RawProfileEntry[];
}

export interface Declarations {
  gateway?: DecodedSingleton;
  defaults?: DecodedSingleton;
  plugins: { name: string; block: DecodedSingleton }[];
  blocks: RawPluginBlock[];
  rules: RawRule[];
  profiles: RawProfile[];
}

/** Decodes every top-level item of every file. */
export function decodeTopLevel(files: ParsedFile[], io: DecodeIO, diags: Diagnostic[]): Declarations {
  const out: Declarations = { plugins: [], blocks: [], rules: [], profiles: [] };
  const singletons = new Map<string, Block>();
  const names = new Map<string, Map<string, SourceRange>>();
  let order = 0;

  const claimName = (kind: string, name: string, at: SourceRange): boolean => {
    const seen = names.get(kind) ?? new Map<string, SourceRange>();
    names.set(kind, seen);
    const prev = seen.get(name);
    if (prev) {
      diags.push(
        error(
          `Duplicate ${kind} name "${name}"`,
          `${kind} "${name}" is already declared at ${formatRange(prev)}. Names must be unique within a kind.`,
          at,
        ),
      );
      return false;
    }
    seen.set(name, at);
    return true;
  };

  for (const file of files) {
    for (const attr of file.body.attributes) {
      if (attr.name === "schema_version") continue;
      const hint = suggest(attr.name, ["schema_version"]);
      diags.push(
        error(
          "Unsupported argument",
          `An argument named "${attr.name}" is not expected at the top level.${hint ? ` Did you mean "${hint}"?` : " Gateway settings go inside the `gateway { ... }` block."}`,
          attr.nameRange,
        ),
      );
    }
    rejectBlocks(file.body, new Set(TOP_LEVEL_BLOCKS), diags);
    for (const block of file.body.blocks) {
      switch (block.type) {
        case "gateway":
        case "defaults": {
          const prev = singletons.get(block.type);
          if (prev) {
            diags.push(
              error(
                `Duplicate ${block.type} block`,
                `A config has one \`${block.type} { ... }\` block; the first is at ${formatRange(prev.defRange)}.`,
                block.defRange,
              ),
            );
            break;
          }
          singletons.set(block.type, block);
          const schema = block.type === "gateway" ? GATEWAY_SCHEMA : DEFAULTS_SCHEMA;
          out[block.type] = decodeSingleton(block, schema, io, diags);
          break;
        }
        case "plugin": {
          if (!checkLabels(block, ["name"], diags)) break;
          const name = block.labels[0]!.value;
          if (!claimName("plugin", name, block.defRange)) break;
          out.plugins.push({ name, block: decodeSingleton(block, { ...PLUGIN_SCHEMA, labels: ["name"] }, io, diags) });
          break;
        }
        case "endpoint":
        case "credential":
        case "approver":
        case "tunnel": {
          const raw = decodePluginBlock(block, block.type, io, diags);
          if (raw && claimName(block.type, raw.block.name, block.defRange)) out.blocks.push(raw);
          break;
        }
        case "rule": {
          if (!checkLabels(block, ["name"], diags)) break;
          const rule = decodeRule(block, order++, diags);
          if (rule && claimName("rule", rule.name, block.defRange)) out.rules.push(rule);
          break;
        }
        case "profile": {
          if (!checkLabels(block, ["name"], diags)) break;
          const profile = decodeProfile(block, diags);
          if (claimName("profile", profile.name, block.defRange)) out.profiles.push(profile);
          break;
        }
      }
    }
  }
  return out;
}

function decodePluginBlock(block: Block, kind: PluginKind, io: DecodeIO, diags: Diagnostic[]): RawPluginBlock | undefined {
  if (!checkLabels(block, ["type", "name"], diags)) return undefined;
  const [typeLabel, nameLabel] = block.labels as [Block["labels"][0], Block["labels"][0]];
  const spec = specFor(kind, typeLabel.value);
  if (!spec) {
    const known = typesOf(kind);
    const hint = suggest(typeLabel.value, known);
    diags.push(
      error(
        `Unknown ${kind} type "${typeLabel.value}"`,
        `${hint ? `Did you mean "${hint}"? ` : ""}Known ${kind} types: ${known.join(", ")}.`,
        typeLabel.range,
      ),
    );
    return undefined;
  }
  const extra = new Set<string>();
  const discriminators: Discriminators = {};
  let binding: RawPluginBlock["binding"];
  if (kind === "credential") {
    extra.add("endpoint").add("endpoints");
    binding = decodeBinding(block.body, diags);
    const declared = spec.kind === "credential" ? spec.discriminators : [];
    for (const d of declared) {
      if (d in spec.fields) continue;
      extra.add(d);
      const attr = block.body.attributes.find((a) => a.name === d);
      if (!attr) continue;
      const v = decodeString(d, attr.expr);
      if (v.ok) discriminators[d] = v.value;
      else diags.push(...v.diagnostics);
    }
  }
  const { fields, fieldRanges } = decodeAttributes(block.body, spec.fields, block.openBraceRange, io, diags, extra);
  if (spec.kind === "credential") {
    for (const d of spec.discriminators) {
      const v = fields[d];
      if (typeof v === "string") discriminators[d] = v;
    }
  }
  const nested = spec.blocks ?? {};
  rejectBlocks(block.body, new Set(Object.keys(nested)), diags);
  const blocks: Record<string, DecodedSingleton[]> = {};
  for (const b of block.body.blocks) {
    const sub = nested[b.type];
    if (!sub) continue;
    if (blocks[b.type] && !sub.multiple) {
      diags.push(error(`Duplicate ${b.type} block`, `Only one "${b.type}" block is allowed in a ${spec.type} ${kind}.`, b.defRange));
      continue;
    }
    (blocks[b.type] ??= []).push(decodeSingleton(b, sub, io, diags));
  }
  const decoded: DecodedBlock = {
    kind,
    type: typeLabel.value,
    name: nameLabel.value,
    fields,
    fieldRanges,
    defRange: block.defRange,
    range: block.range,
  };
  if (Object.keys(blocks).length > 0) decoded.blocks = blocks;
  if (spec.validate) {
    diags.push(...spec.validate(decoded, { error: (s, d, r) => error(s, d, r) }));
  }
  const raw: RawPluginBlock = { kind, spec, block: decoded, discriminators };
  if (binding) raw.binding = binding;
  return raw;
}

/** A credential's `endpoint = x` or `endpoints = [x, y]`. */
function decodeBinding(body: Body, diags: Diagnostic[]): RawPluginBlock["binding"] {
  const one = body.attributes.find((a) => a.name === "endpoint");
  const many = body.attributes.find((a) => a.name === "endpoints");
  if (one && many) {
    diags.push(error("Conflicting arguments", 'Set either "endpoint" or "endpoints" on a credential, not both.', many.nameRange));
  }
  if (one) {
    const r = decodeRef("endpoint", one.expr);
    if (!r.ok) {
      diags.push(...r.diagnostics);
      return undefined;
    }
    return { refs: [r.value], attr: "endpoint" };
  }
  if (many) {
    const r = decodeValue("endpoints", { list: { ref: "endpoint" } }, many.expr);
    if (!r.ok) {
      diags.push(...r.diagnostics);
      return undefined;
    }
    return { refs: r.value as RefValue[], attr: "endpoints" };
  }
  return undefined;
}

const RULE_FIELDS: Record<string, FieldSpec> = {
  endpoint: { type: { ref: "endpoint" }, doc: "" },
  endpoints: { type: { list: { ref: "endpoint" } }, doc: "" },
  priority: { type: "int", doc: "" },
  disabled: { type: "bool", doc: "" },
  condition: { type: "string", doc: "" },
  credential: { type: { ref: "credential" }, doc: "" },
  verdict: { type: "string", doc: "", enum: ["allow", "deny"] },
  reason: { type: "string", doc: "" },
  approve: { type: { list: { ref: "approver" } }, doc: "" },
};

const noFiles: DecodeIO = { readFile: () => undefined };

function decodeRule(block: Block, order: number, diags: Diagnostic[]): RawRule | undefined {
  const name = block.labels[0]!.value;
  rejectBlocks(block.body, new Set(), diags);
  const approveAttr = block.body.attributes.find((a) => a.name === "approve");
  const special = new Set<string>(approveAttr ? ["approve"] : []);
  const { fields, fieldRanges } = decodeAttributes(block.body, RULE_FIELDS, block.openBraceRange, noFiles, diags, special);
  const rule: RawRule = {
    name,
    defRange: block.defRange,
    endpointRefs: [],
    priority: (fields.priority as number | undefined) ?? 0,
    disabled: (fields.disabled as boolean | undefined) ?? false,
    condition: (fields.condition as string | undefined) ?? "",
    approve: [],
    order,
  };
  if (fieldRanges.condition) rule.conditionRange = fieldRanges.condition;
  if (fields.credential) rule.credential = fields.credential as RefValue;
  if (fields.verdict) rule.verdict = fields.verdict as Verdict;
  if (fields.reason !== undefined) rule.reason = fields.reason as string;

  const hasOne = block.body.attributes.some((a) => a.name === "endpoint");
  const hasMany = block.body.attributes.some((a) => a.name === "endpoints");
  if (hasOne && hasMany) {
    diags.push(error("Conflicting arguments", `Rule "${name}" sets both "endpoint" and "endpoints"; use one.`, block.defRange));
  } else if (!hasOne && !hasMany) {
    diags.push(
      error(
        "Missing required argument",
        `Rule "${name}" needs "endpoint = <type>.<name>" or "endpoints = [...]" to say which endpoint(s) it applies to.`,
        block.openBraceRange,
      ),
    );
  }
  if (fields.endpoint) rule.endpointRefs.push(fields.endpoint as RefValue);
  if (fields.endpoints) rule.endpointRefs.push(...(fields.endpoints as RefValue[]));
  if (hasMany && rule.endpointRefs.length === 0 && fields.endpoints) {
    diags.push(error("Empty endpoint list", `Rule "${name}" has "endpoints = []"; list at least one endpoint.`, fieldRanges.endpoints!));
  }

  if (approveAttr) rule.approve = decodeApprove(name, approveAttr, block, diags);
  const hasVerdict = block.body.attributes.some((a) => a.name === "verdict");
  if (hasVerdict && approveAttr) {
    diags.push(
      error(
        `Rule "${name}" sets both verdict and approve`,
        'Set exactly one outcome: verdict = "allow" / "deny", or approve = [approvers...].',
        block.defRange,
      ),
    );
  } else if (!hasVerdict && !approveAttr) {
    diags.push(
      error(
        `Rule "${name}" has no outcome`,
        'Set exactly one outcome: verdict = "allow" / "deny", or approve = [approvers...].',
        block.defRange,
      ),
    );
  }
  return rule;
}

function decodeApprove(ruleName: string, attr: Attribute, block: Block, diags: Diagnostic[]): RefValue[] {
  const e: Expr = attr.expr;
  if (e.kind !== "tuple") {
    diags.push(
      error(
        "Incorrect attribute value type",
        `Inappropriate value for attribute "approve": a list of approver references is required (e.g. approve = [human_approver.ops]).`,
        e.range,
      ),
    );
    return [];
  }
  if (e.items.length === 0) {
    diags.push(error(`Rule "${ruleName}" has an empty approve chain`, "List at least one approver, or use verdict instead.", e.range));
  }
  const refs: RefValue[] = [];
  for (const item of e.items) {
    if (item.kind !== "traversal") {
      diags.push(
        error(
          `Rule "${ruleName}" approve stage must be a bare-name reference`,
          "Each stage is a bare approver name (e.g. `approve = [claude-judge]`). Bind policy text on the approver block itself.",
          block.defRange,
        ),
      );
      continue;
    }
    const r = decodeRef("approve", item);
    if (r.ok) refs.push(r.value);
    else diags.push(...r.diagnostics);
  }
  return refs;
}

function decodeProfile(block: Block, diags: Diagnostic[]): RawProfile {
  const profile: RawProfile = { name: block.labels[0]!.value, defRange: block.defRange, entries: [] };
  rejectBlocks(block.body, new Set(), diags);
  decodeAttributes(block.body, {}, block.openBraceRange, noFiles, diags, new Set(["credentials"]));
  const attr = block.body.attributes.find((a) => a.name === "credentials");
  if (!attr) {
    diags.push(
      error("Missing required argument", 'The argument "credentials" is required, but no definition was found.', block.openBraceRange),
    );
    return profile;
  }
  if (attr.expr.kind !== "tuple") {
    diags.push(
      error(
        "Incorrect attribute value type",
        'Inappropriate value for attribute "credentials": a list of credential references or { credential = ..., placeholder = "..." } objects is required.',
        attr.expr.range,
      ),
    );
    return profile;
  }
  for (const item of attr.expr.items) {
    if (item.kind === "object") {
      const entry = decodeProfileObject(item, diags);
      if (entry) profile.entries.push(entry);
      continue;
    }
    const r = decodeRef("credentials", item);
    if (r.ok) profile.entries.push({ ref: r.value, discriminators: {}, range: item.range });
    else diags.push(...r.diagnostics);
  }
  return profile;
}

function decodeProfileObject(item: Extract<Expr, { kind: "object" }>, diags: Diagnostic[]): RawProfileEntry | undefined {
  let ref: RefValue | undefined;
  const discriminators: Discriminators = {};
  let ok = true;
  for (const kv of item.items) {
    const key = kv.keyName;
    if (key === "credential") {
      const r = decodeRef("credential", kv.value);
      if (r.ok) ref = r.value;
      else {
        diags.push(...r.diagnostics);
        ok = false;
      }
    } else if (key !== undefined && (DISCRIMINATORS as readonly string[]).includes(key)) {
      const v = decodeString(key, kv.value);
      if (v.ok) discriminators[key as Discriminator] = v.value;
      else {
        diags.push(...v.diagnostics);
        ok = false;
      }
    } else {
      const hint = key ? suggest(key, ["credential", ...DISCRIMINATORS]) : undefined;
      diags.push(
        error(
          "Unsupported profile entry key",
          `A profile entry takes "credential" plus one dispatch discriminator (${DISCRIMINATORS.join(", ")}); "${key ?? "?"}" is not one.${hint ? ` Did you mean "${hint}"?` : ""}`,
          kv.key.range,
        ),
      );
      ok = false;
    }
  }
  if (!ref) {
    if (ok) {
      diags.push(
        error("Missing credential in profile entry", 'Write the entry as { credential = <type>.<name>, placeholder = "..." }.', item.range),
      );
    }
    return undefined;
  }
  return { ref, discriminators, range: item.range };
}
