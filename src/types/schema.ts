/**
 * The schema language plugin types declare themselves in.
 *
 * Every endpoint / credential / approver / tunnel type is one module that
 * exports a spec built from these pieces: its HCL fields (types, required,
 * docs, where `<<file:...>>` and `{{secret:NAME}}` are allowed), type-specific
 * validation, and metadata the compiler needs (an endpoint's family and
 * default port, a credential's dispatch discriminators). The loader decodes
 * blocks generically from the spec, so adding a type touches no dispatcher —
 * only ./registry.ts, which lists the modules.
 */
import type { Diagnostic, SourceRange } from "../config/diagnostics.js";
import type { Family } from "../policy/action.js";
import type { HttpInjector } from "./credentials/http.js";
import type { UpstreamTlsProvider } from "./credentials/upstream-tls.js";
import type { SshAuthProvider } from "./credentials/ssh-auth.js";

/** Kinds of named blocks a reference can point at. */
export type RefKind = "endpoint" | "credential" | "approver" | "tunnel";

/** Plugin-dispatched block kinds (the first label selects the type). */
export type PluginKind = "endpoint" | "credential" | "approver" | "tunnel";

export type ScalarType = "string" | "bool" | "int" | "number";

export type FieldType =
  | ScalarType
  | "list<string>"
  | "map<string,string>"
  /** A typed reference `<type>.<name>` to a block of the given kind. */
  | { ref: RefKind }
  | { list: { ref: RefKind } };

export interface FieldSpec {
  type: FieldType;
  required?: boolean;
  /** One or two sentences for docs/config-reference.md. */
  doc: string;
  /** Allowed string values (compared exactly). */
  enum?: readonly string[];
  /** `"<<file:path>>"` is replaced by the file's contents, relative to the config file. */
  fileInclude?: boolean;
  /** `{{secret:NAME}}` may appear in the value; it is resolved at run time, never at load. */
  secretTemplate?: boolean;
  /**
   * The value the runtime assumes when the field is unset. Documentation
   * only: decoding never fills it in (see {@link DecodedBlock.fields}).
   */
  default?: string | number | boolean;
}

/** A resolved-later reference as decoded from `type.name` (or `kind.name`). */
export interface RefValue {
  /** First traversal segment: the block type (`https`) — or, for one-label kinds, the kind. */
  type: string;
  name: string;
  range: SourceRange;
}

export type DecodedValue =
  | string
  | boolean
  | number
  | string[]
  | Record<string, string>
  | RefValue
  | RefValue[];

/** A plugin block after generic decoding against its {@link TypeSpec}. */
export interface DecodedBlock {
  kind: PluginKind;
  type: string;
  name: string;
  /** Fields that were set (after defaults are NOT applied: absent means unset). */
  fields: Record<string, DecodedValue>;
  /** Where each set field's value is, for diagnostics. */
  fieldRanges: Record<string, SourceRange>;
  /** Nested blocks by type (only types whose spec declares `blocks`), in source order. */
  blocks?: Record<string, DecodedSingleton[]>;
  /** The block's definition range (`kind "type" "name"`) — where block-level diagnostics point. */
  defRange: SourceRange;
  /** The whole block. */
  range: SourceRange;
}

/** What a type's `validate` hook may use. */
export interface ValidateContext {
  /** Convenience for building an error diagnostic at a range. */
  error(summary: string, detail: string, range: SourceRange): Diagnostic;
}

export interface TypeSpecBase {
  kind: PluginKind;
  /** The first block label, e.g. `https`, `bearer_token`. */
  type: string;
  /**
   * Other first labels that select this same type — names the reference
   * used in earlier releases (`ssh` for `ssh_key`). A block keeps the label
   * it was declared with, so references to it use that spelling.
   */
  aliases?: readonly string[];
  /** What the type is for, in our own words (goes into docs/config-reference.md). */
  doc: string;
  fields: Record<string, FieldSpec>;
  /** Nested blocks the type accepts (e.g. `async_grant {}` on human_approver). */
  blocks?: Record<string, NestedBlockSchema>;
  /** Type-specific checks that the field table cannot express. */
  validate?(block: DecodedBlock, ctx: ValidateContext): Diagnostic[];
}

export interface EndpointTypeSpec extends TypeSpecBase {
  kind: "endpoint";
  /** Which CEL variable rules on this endpoint see. */
  family: Family;
  /** Port assumed for host entries written without one. */
  defaultPort(block: DecodedBlock): number;
  /**
   * The host entries this endpoint claims, as written (`api.github.com`,
   * `*.amazonaws.com`, `db.internal:5432`, an IP for kubernetes `server`).
   * URL-shaped values (`https://k8s.example.com:6443`) are reduced to host[:port].
   */
  hostsOf(block: DecodedBlock): string[];
}

/** Fields a profile entry or a credential block may set to tell credentials apart. */
export type Discriminator = "placeholder" | "user" | "database";

export interface CredentialTypeSpec extends TypeSpecBase {
  kind: "credential";
  /** The dispatch discriminators this type understands (see docs/credentials.md). */
  discriminators: readonly Discriminator[];
  /**
   * Runtime hook: writes the secret into an intercepted HTTP request. Types
   * without it inject nothing into HTTP; the runtime calls it through
   * `applyHttpInjection` and never special-cases a type.
   */
  http?: HttpInjector;
  /** Runtime hook: client TLS material for the upstream handshake (mtls_credential). */
  upstreamTls?: UpstreamTlsProvider;
  /** Runtime hook: login material for an SSH upstream (ssh_key). */
  sshAuth?: SshAuthProvider;
}

export interface ApproverTypeSpec extends TypeSpecBase {
  kind: "approver";
}

export interface TunnelTypeSpec extends TypeSpecBase {
  kind: "tunnel";
}

export type TypeSpec = EndpointTypeSpec | CredentialTypeSpec | ApproverTypeSpec | TunnelTypeSpec;

/** Type guard helpers for decoded values. */
export function isRef(v: DecodedValue | undefined): v is RefValue {
  return typeof v === "object" && v !== null && !Array.isArray(v) && "name" in v && "range" in v;
}

export function isRefList(v: DecodedValue | undefined): v is RefValue[] {
  return Array.isArray(v) && v.every((x) => typeof x === "object" && x !== null && "name" in x);
}

/**
 * Schema of a singleton block (`gateway`, `defaults`, nested `wireguard`, ...)
 * or of a labelled non-plugin block (`plugin "name"`).
 */
export interface BlockSchema {
  doc: string;
  fields: Record<string, FieldSpec>;
  /** Nested block types allowed inside. */
  blocks?: Record<string, NestedBlockSchema>;
}

export interface NestedBlockSchema extends BlockSchema {
  /** Names of the labels the block takes (e.g. `["name"]` for `forward "pg" {}`); none by default. */
  labels?: readonly string[];
  /** Whether the block may appear more than once (labelled blocks usually may). */
  multiple?: boolean;
}

/** A singleton/nested block after generic decoding against a {@link BlockSchema}. */
export interface DecodedSingleton {
  labels: string[];
  fields: Record<string, DecodedValue>;
  fieldRanges: Record<string, SourceRange>;
  /** Nested blocks by type, in source order. */
  blocks: Record<string, DecodedSingleton[]>;
  defRange: SourceRange;
  range: SourceRange;
}
