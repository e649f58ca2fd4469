/**
 * `op.class`: the coarse, cross-protocol grain of an action — `read`,
 * `write`, `delete`, `admin` or `exec` — so "read-only everywhere" is one rule
 * whatever the protocol.
 *
 * Each action gets exactly one class: the most severe that applies, in the
 * order exec > admin > delete > write > read. So a write to RBAC is `admin`
 * (not `write`), deleting a namespace is `admin` (not `delete`), and
 * `nodes/proxy` is `exec` (not `admin`). What the gateway cannot
 * characterise (an unknown HTTP method or Kubernetes verb) is `exec` — the
 * class every policy gates — never `read` or `write`, so it cannot slip
 * through an allow-list of the benign classes.
 *
 * SQL is classified by the SQL analyzer (it sets `Action.opClass`); this
 * module passes a preset class through untouched.
 */
import type { Action, K8sFacets, OpClass, UnknownFacet } from "../action.js";

/**
 * HTTP: `get`/`head`/`options` → read; `post`/`put`/`patch` → write;
 * `delete` → delete; `connect` (a raw tunnel) and anything else, `trace` and
 * WebDAV-style extensions included → exec. Case-insensitive.
 */
export function httpOpClass(method: string): OpClass {
  switch (method.toLowerCase()) {
    case "get":
    case "head":
    case "options":
      return "read";
    case "post":
    case "put":
    case "patch":
      return "write";
    case "delete":
      return "delete";
    default:
      return "exec";
  }
}

/** Subresources that run code in, attach to, or tunnel into a workload or node. */
const K8S_EXEC_SUBRESOURCES = new Set(["exec", "attach", "portforward", "proxy"]);

/** API groups whose every mutation changes access control or the API itself. */
const K8S_ADMIN_GROUPS = new Set([
  "rbac.authorization.k8s.io",
  "apiextensions.k8s.io",
  "admissionregistration.k8s.io",
  "apiregistration.k8s.io",
  "certificates.k8s.io",
  "flowcontrol.apiserver.k8s.io",
]);

/**
 * Base resources whose mutations are admin in any group — matched by name too
 * so fixtures (which carry no group) classify like live traffic. A custom
 * resource that happens to share a name is over-classified, the safe side.
 */
const K8S_ADMIN_RESOURCES = new Set([
  "roles",
  "rolebindings",
  "clusterroles",
  "clusterrolebindings",
  "customresourcedefinitions",
  "validatingwebhookconfigurations",
  "mutatingwebhookconfigurations",
  "validatingadmissionpolicies",
  "validatingadmissionpolicybindings",
  "mutatingadmissionpolicies",
  "mutatingadmissionpolicybindings",
  "apiservices",
  "certificatesigningrequests",
  "namespaces",
  "nodes",
]);

/** `serviceaccounts/token` mints a credential: admin although its base is not. */
const K8S_ADMIN_SUBRESOURCES = new Set(["serviceaccounts/token"]);

/** Virtual resources whose `create` only asks a question and persists nothing. */
const K8S_REVIEW_RESOURCES = new Set([
  "tokenreviews",
  "subjectaccessreviews",
  "selfsubjectaccessreviews",
  "localsubjectaccessreviews",
  "selfsubjectrulesreviews",
  "selfsubjectreviews",
]);

const K8S_READ_VERBS = new Set(["get", "list", "watch", "meta"]);
const K8S_WRITE_VERBS = new Set(["create", "update", "patch"]);
const K8S_DELETE_VERBS = new Set(["delete", "deletecollection"]);

/**
 * Kubernetes, by severity:
 * - exec: any verb on an `exec`/`attach`/`portforward`/`proxy` subresource
 *   (kubectl exec is a GET websocket upgrade or a POST), the legacy `proxy`
 *   verb, mutations of `pods/ephemeralcontainers` (kubectl debug), and any
 *   verb this table does not know.
 * - admin: create/update/patch/delete/deletecollection of RBAC, CRDs,
 *   admission webhooks/policies, API services, CSRs (incl. approval), API
 *   priority & fairness, `namespaces` and `nodes` (incl. `/status`,
 *   `/finalize`, and cordon, which is a node patch), and creating
 *   `serviceaccounts/token`.
 * - delete: delete/deletecollection, and creating `pods/eviction` (an
 *   eviction deletes the pod; this is what drain sends).
 * - write: create/update/patch otherwise — `*\/status` and `*\/scale` writes
 *   included (they change object state, not access).
 * - read: get/list/watch/meta, and creating an access or token review.
 */
export function k8sOpClass(f: Pick<K8sFacets, "verb" | "resource" | "group">): OpClass {
  const verb = f.verb.toLowerCase();
  const slash = f.resource.indexOf("/");
  const base = slash < 0 ? f.resource : f.resource.slice(0, slash);
  const sub = slash < 0 ? "" : f.resource.slice(slash + 1);

  if (verb === "proxy" || K8S_EXEC_SUBRESOURCES.has(sub)) return "exec";
  if (K8S_READ_VERBS.has(verb)) return "read";
  const mutates = K8S_WRITE_VERBS.has(verb) || K8S_DELETE_VERBS.has(verb);
  if (!mutates) return "exec";
  if (base === "pods" && sub === "ephemeralcontainers") return "exec";
  if (K8S_ADMIN_GROUPS.has(f.group) || K8S_ADMIN_RESOURCES.has(base) || K8S_ADMIN_SUBRESOURCES.has(f.resource)) {
    return "admin";
  }
  if (K8S_DELETE_VERBS.has(verb)) return "delete";
  if (verb === "create" && f.resource === "pods/eviction") return "delete";
  if (verb === "create" && sub === "" && K8S_REVIEW_RESOURCES.has(base)) return "read";
  return "write";
}

/**
 * SSH: every channel action is `exec` — a pty, a shell, an exec and a
 * subsystem (sftp reads and writes arbitrary files) all run code on the
 * host, and a `forward` opens a raw tunnel from it, the same class as an
 * HTTP CONNECT.
 */
export function sshOpClass(_verb: string): OpClass {
  return "exec";
}

/** The class, or why it is unknown. */
export interface OpClassResult {
  /**
   * The class; `undefined` only for a SQL action without a preset class.
   * When `unknown` is set this is a conservative stand-in (`exec`), for
   * display — rules must see `op.class` as unknown.
   */
  opClass?: OpClass;
  /** Set when the facets the class derives from are themselves unknown. */
  unknown?: UnknownFacet;
}

// Facet fields each family's class is computed from.
const INPUTS: Record<"http" | "k8s" | "ssh", readonly string[]> = {
  http: ["http.method"],
  k8s: ["k8s.verb", "k8s.resource", "k8s.group"],
  ssh: ["ssh.verb"],
};

/**
 * Classifies an action, propagating unknowns: if a facet the class is
 * derived from is unknown (e.g. an unparseable Kubernetes path), `op.class`
 * is unknown with the same cause. A preset `Action.opClass` wins as-is; a
 * SQL action without one yields no class (the SQL analyzer owns it) unless
 * the action already lists `op.class` as unknown.
 */
export function classifyOp(action: Action): OpClassResult {
  if (action.opClass !== undefined) return { opClass: action.opClass };
  const unknowns = action.unknown ?? [];
  if (action.family === "sql") {
    const u = unknowns.find((x) => x.field === "op.class");
    return u ? { unknown: { field: "op.class", cause: u.cause } } : {};
  }
  const hit = unknowns.find((x) => x.field === "op.class" || INPUTS[action.family].includes(x.field));
  if (hit) return { opClass: "exec", unknown: { field: "op.class", cause: hit.cause } };
  switch (action.family) {
    case "http":
      return { opClass: httpOpClass(action.http.method) };
    case "k8s":
      return { opClass: k8sOpClass(action.k8s) };
    case "ssh":
      return { opClass: sshOpClass(action.ssh.verb) };
  }
}

/**
 * `op.class` of an action: a preset `opClass` as-is, otherwise derived from
 * the http / k8s / ssh facets; `undefined` for a SQL action without a preset
 * class. Use {@link classifyOp} to also learn whether the class is unknown.
 */
export function opClassOf(action: Action): OpClass | undefined {
  return classifyOp(action).opClass;
}
