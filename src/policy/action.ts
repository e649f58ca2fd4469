/**
 * Actions: what the policy core decides about.
 *
 * A protocol runtime (or a `clawpatrol test` fixture) turns one request into an
 * {@link Action}: the host the agent dialed, the family's typed facets (the
 * exact variables CEL conditions read), and — when the runtime could not see
 * all the bytes — the list of facet fields that are *unknown*. The policy core
 * never touches sockets; everything it needs is in this plain object.
 */

export type Family = "http" | "k8s" | "sql" | "ssh";

export const FAMILIES: readonly Family[] = ["http", "k8s", "sql", "ssh"];

/** `http.*` — an intercepted HTTPS request. */
export interface HttpFacets {
  /** Lower-cased method (`get`, `post`, ...). */
  method: string;
  /** Request path without the query string, as on the wire. */
  path: string;
  /** Query parameters, multi-valued, as on the wire. */
  query: Record<string, string[]>;
  /** Headers, multi-valued; keys in Go's canonical form (`Content-Type`). */
  headers: Record<string, string[]>;
  /** Raw request body (UTF-8 decoded; may be a truncated prefix, see Action.unknown). */
  body: string;
  /** Parsed JSON body when the body is JSON; `{}` otherwise. */
  body_json: unknown;
}

/** `k8s.*` — a Kubernetes API request, derived from method + URL. */
export interface K8sFacets {
  /** Lower-cased: get, list, watch, create, update, patch, delete, deletecollection, meta, ... */
  verb: string;
  /** `pods`, or `pods/exec` for a subresource; "" for non-resource paths. */
  resource: string;
  namespace: string;
  name: string;
  /** API group ("" for the core group). */
  group: string;
  /** Query parameters, first value of each. */
  params: Record<string, string>;
  /** Query parameters, every value (e.g. each `command=` of an exec). */
  query: Record<string, string[]>;
}

/** `sql.*` — one SQL statement (a multi-statement query is one action per statement). */
export interface SqlFacets {
  /** Lower-cased verb of what the statement does (shadow statements count as what they do). */
  verb: string;
  /** Every verb the statement involves, outer and nested, de-duplicated, in order. */
  verbs: string[];
  /** Lower-cased table names; schema-qualified names yield both `schema.t` and `t`. */
  tables: string[];
  /** Lower-cased function names; qualified names yield both `schema.f` and `f`. */
  functions: string[];
  /** The statement text as on the wire. */
  statement: string;
  /** Agent-declared database ("" when unknown). */
  database: string;
}

/** `ssh.*` — one SSH channel action. */
export interface SshFacets {
  /** pty | exec | shell | subsystem | forward */
  verb: string;
  command: string;
  subsystem: string;
  forward_host: string;
  forward_port: number;
  user: string;
  /** Buffered piped stdin ("" when none / not buffered). */
  stdin: string;
}

export interface FacetsByFamily {
  http: HttpFacets;
  k8s: K8sFacets;
  sql: SqlFacets;
  ssh: SshFacets;
}

/** Operation class, the cross-protocol coarse grain of an action (see docs/rules.md). */
export type OpClass = "read" | "write" | "delete" | "admin" | "exec";

/**
 * Why a facet field is unavailable: its bytes overflowed the inspection buffer,
 * or a parser refused them. Either way a rule whose outcome depends on it
 * fails closed.
 */
export type UnknownCause = "truncated" | "unparseable";

export interface UnknownFacet {
  /** Full variable path, e.g. `http.body`, `http.body_json`, `sql.verb`, `op.class`. */
  field: string;
  cause: UnknownCause;
}

/**
 * Hints the credential resolver uses to pick between several credentials a
 * profile binds at one endpoint.
 */
export interface DispatchHints {
  /**
   * Texts the agent sent where a placeholder may appear (auth headers, the
   * Postgres password, ...). A profile entry's `placeholder` matches when one
   * of these texts contains it.
   */
  texts?: string[];
  /** Protocol user (Postgres StartupMessage user, SSH user, ClickHouse user). */
  user?: string;
  /** Protocol database (Postgres / ClickHouse). */
  database?: string;
}

interface ActionBase {
  /** Host the agent dialed, optionally `host:port`. */
  host: string;
  /** Explicit credential name (fixtures, or a runtime that already resolved it). */
  credential?: string;
  dispatch?: DispatchHints;
  /** Device identity (tunnel peer) and its profile. */
  device?: string;
  profile?: string;
  peerIp?: string;
  /** Facet fields whose values are unavailable (see {@link UnknownFacet}). */
  unknown?: UnknownFacet[];
  /**
   * Operation class. Runtimes set it when they know better than the facets
   * (SQL: from statement analysis); otherwise the policy core derives it.
   */
  opClass?: OpClass;
}

export type Action =
  | (ActionBase & { family: "http"; http: HttpFacets })
  | (ActionBase & { family: "k8s"; k8s: K8sFacets })
  | (ActionBase & { family: "sql"; sql: SqlFacets })
  | (ActionBase & { family: "ssh"; ssh: SshFacets });

/** Facets of an action, whatever its family. */
export function facetsOf(a: Action): FacetsByFamily[Family] {
  switch (a.family) {
    case "http":
      return a.http;
    case "k8s":
      return a.k8s;
    case "sql":
      return a.sql;
    case "ssh":
      return a.ssh;
  }
}
