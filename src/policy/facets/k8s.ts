/**
 * `k8s.*` facets: a Kubernetes API request (method + URL) seen the way the
 * API server's own request-info parser sees it, so a rule about `secrets`
 * fires on exactly the requests RBAC would authorise as `secrets`.
 *
 * URL scheme (Kubernetes API conventions):
 *
 *   /api/<version>/...                   core group ("")
 *   /apis/<group>/<version>/...          named group
 *   .../namespaces/<ns>/<resource>[/<name>[/<subresource>]]
 *   .../<resource>[/<name>[/<subresource>]]        cluster-scoped
 *   .../watch/...  .../proxy/...         legacy verb prefixes
 *
 * Anything that is not under `/api/<v>/` or `/apis/<g>/<v>/` with at least a
 * resource is a non-resource request. Discovery and health paths become verb
 * `meta`; other non-resource paths (`/logs`, `/metrics`, `/debug/pprof`, ...)
 * get a method-derived verb and an empty resource, because `meta` promises
 * harmless metadata and those are not.
 *
 * Fail-closed parsing: a path the API server (or a normalising proxy in front
 * of it) could read differently from us — an invalid `%` escape, a `.`/`..`
 * segment, an empty `//` segment, an encoded slash (`%2F`) or a backslash, a
 * `watch`/`proxy` prefix with nothing after it, extra segments after a
 * non-proxy subresource — still yields a best-effort parse, but `resource` is
 * the sentinel
 * {@link K8S_UNPARSEABLE_RESOURCE} (which no allow-list names) and
 * `k8s.verb`, `k8s.resource`, `k8s.namespace`, `k8s.name` and `k8s.group` are
 * reported unknown (`unparseable`). Such a path never becomes `meta`. The
 * builder never throws.
 */
import type { K8sFacets, UnknownFacet } from "../action.js";
import { emptyRecord, parseQuery, percentDecode, splitTarget, type FacetResult } from "./http.js";

/** `k8s.resource` of a request whose path could not be parsed safely. */
export const K8S_UNPARSEABLE_RESOURCE = "<unparseable>";

/** Facet fields derived from the path, all unknown when the path is unparseable. */
export const K8S_PATH_FIELDS: readonly string[] = ["k8s.verb", "k8s.resource", "k8s.namespace", "k8s.name", "k8s.group"];

// Subresources of a namespace object itself (`/api/v1/namespaces/<ns>/status`),
// as opposed to resources inside the namespace.
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

/** Whether a non-resource path is discovery / health / version metadata. */
function isMetaPath(segs: readonly string[]): boolean {
  const [a, b, c] = segs;
  if (a === undefined) return false; // `/` itself: not discovery
  if (a === "api" || a === "apis") return true; // /api, /api/v1, /apis, /apis/g, /apis/g/v
  if (a === "version" || a === "healthz" || a === "livez" || a === "readyz" || a === "openapi") return true;
  if (a === ".well-known" && b === "openid-configuration" && segs.length === 2) return true;
  if (a === "openid" && b === "v1" && c === "jwks" && segs.length === 3) return true;
  return false;
}

/** Verb from the HTTP method alone (no name / watch refinement). */
function methodVerb(method: string): string {
  switch (method) {
    case "get":
    case "head":
      return "get";
    case "post":
      return "create";
    case "put":
      return "update";
    case "patch":
      return "patch";
    case "delete":
      return "delete";
    default:
      return method; // `options`, `connect`, ...: not a verb any allow-list names
  }
}

/** `watch=` semantics of the API server: any value but `false` / `0` (first value wins). */
function watchRequested(query: Record<string, string[]>): boolean {
  const v = Object.hasOwn(query, "watch") ? query["watch"]?.[0] : undefined;
  if (v === undefined) return false;
  const l = v.toLowerCase();
  return l !== "false" && l !== "0";
}

interface ParsedPath {
  verb: string;
  resource: string;
  namespace: string;
  name: string;
  group: string;
  /** The parse is a best-effort guess the caller must treat as unparseable. */
  bad: boolean;
}

function parseSegments(segs: readonly string[], method: string, query: Record<string, string[]>): ParsedPath {
  const out: ParsedPath = { verb: "", resource: "", namespace: "", name: "", group: "", bad: false };
  let rest: string[];
  if (segs[0] === "api" && segs.length >= 3) {
    rest = segs.slice(2);
  } else if (segs[0] === "apis" && segs.length >= 4) {
    out.group = segs[1]!;
    rest = segs.slice(3);
  } else {
    const readish = method === "get" || method === "head";
    out.verb = readish && isMetaPath(segs) ? "meta" : methodVerb(method);
    return out;
  }

  let legacyVerb = "";
  if (rest[0] === "watch" || rest[0] === "proxy") {
    legacyVerb = rest[0];
    rest = rest.slice(1);
    if (rest.length === 0) {
      out.verb = legacyVerb;
      out.bad = true;
      return out;
    }
  }
  if (rest[0] === "namespaces" && rest.length > 1) {
    out.namespace = rest[1]!;
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) rest = rest.slice(2);
  }
  out.resource = rest[0]!;
  out.name = rest[1] ?? "";
  let sub = "";
  if (legacyVerb !== "proxy" && rest.length >= 3) sub = rest[2]!;
  // Only proxy paths carry an uninterpreted tail.
  if (rest.length > 3 && legacyVerb !== "proxy" && sub !== "proxy") out.bad = true;
  if (sub !== "") out.resource = `${out.resource}/${sub}`;

  if (legacyVerb !== "") {
    out.verb = legacyVerb;
  } else {
    out.verb = methodVerb(method);
    if (out.name === "" && out.verb === "get") out.verb = watchRequested(query) ? "watch" : "list";
    else if (out.name === "" && out.verb === "delete") out.verb = "deletecollection";
  }
  return out;
}

/**
 * Builds `k8s.*` facets from an API request. `target` is the request-target
 * (`/api/v1/namespaces/ns/pods?watch=1`) or a full URL. Verbs: GET/HEAD on a
 * named object → `get`, on a collection → `list` (or `watch` with a
 * `watch=` parameter that is not false/0, or a legacy `/watch/` path); POST →
 * `create`, PUT → `update`, PATCH → `patch`; DELETE on a named object →
 * `delete`, on a collection → `deletecollection`; other methods → the
 * lower-cased method. Subresources follow the same rules (`POST
 * pods/x/exec` → create `pods/exec`, the websocket `GET` → get `pods/exec`;
 * `kubectl drain`'s evictions are create `pods/eviction`; cordon is a patch
 * of `nodes` — drain/cordon/evict are client workflows, not API verbs).
 *
 * `params` holds the first value of each query parameter, `query` all of them
 * (every `command=` of an exec). A `namespaces/<ns>` object sets both
 * `namespace` and `name` to `<ns>`, as the API server does.
 */
export function buildK8sFacets(method: string, target: string): FacetResult<K8sFacets> {
  const { path: rawPath, rawQuery } = splitTarget(target);
  const query = parseQuery(rawQuery);
  const params = emptyRecord<string>();
  for (const k of Object.keys(query)) params[k] = query[k]?.[0] ?? "";
  const m = method.toLowerCase();

  // Decode first, split second: the API server splits the *decoded* path,
  // so `secre%74s` is `secrets`.
  const decoded = percentDecode(rawPath, false, true);
  let bad = decoded === undefined || !decoded.startsWith("/");
  let text = decoded ?? rawPath;
  text = text.replace(/^\/+/, "");
  if (text.endsWith("/")) text = text.slice(0, -1);
  const all = text === "" ? [] : text.split("/");
  const segs = all.filter((s) => s !== "" && s !== "." && s !== "..");
  if (segs.length !== all.length || /^\/{2,}/.test(decoded ?? rawPath)) bad = true;
  // An encoded slash or any backslash reads differently to a router that
  // matches the raw path or a proxy that normalises `\` to `/`.
  if (/%2f/i.test(rawPath) || text.includes("\\")) bad = true;

  const p = parseSegments(segs, m, query);
  const facets: K8sFacets = {
    verb: p.verb,
    resource: p.resource,
    namespace: p.namespace,
    name: p.name,
    group: p.group,
    params,
    query,
  };
  const unknown: UnknownFacet[] = [];
  if (bad || p.bad) {
    if (facets.verb === "meta") facets.verb = methodVerb(m);
    facets.resource = K8S_UNPARSEABLE_RESOURCE;
    for (const field of K8S_PATH_FIELDS) unknown.push({ field, cause: "unparseable" });
  }
  return { facets, unknown };
}

/**
 * `k8s.*` facets from already-derived values (a fixture's `k8s` block):
 * the verb is lower-cased, `query` mirrors `params` one value each, and
 * `group` defaults to the core group.
 */
export function k8sFacetsFromParts(p: {
  verb?: string;
  resource?: string;
  namespace?: string;
  name?: string;
  group?: string;
  params?: Readonly<Record<string, string>>;
}): K8sFacets {
  const params = emptyRecord<string>();
  const query = emptyRecord<string[]>();
  if (p.params) {
    for (const k of Object.keys(p.params)) {
      const v = p.params[k] ?? "";
      params[k] = v;
      query[k] = [v];
    }
  }
  return {
    verb: (p.verb ?? "").toLowerCase(),
    resource: p.resource ?? "",
    namespace: p.namespace ?? "",
    name: p.name ?? "",
    group: p.group ?? "",
    params,
    query,
  };
}
