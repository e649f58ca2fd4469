import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { buildK8sFacets, K8S_PATH_FIELDS, K8S_UNPARSEABLE_RESOURCE, k8sFacetsFromParts } from "./k8s.js";

interface Row {
  method: string;
  target: string;
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
  group?: string;
}

// [method, target] → expected facets. Every row must parse cleanly (no unknowns).
const TABLE: Row[] = [
  // core group, namespaced
  { method: "GET", target: "/api/v1/namespaces/default/pods", verb: "list", resource: "pods", namespace: "default" },
  { method: "GET", target: "/api/v1/namespaces/default/pods/web-1", verb: "get", resource: "pods", namespace: "default", name: "web-1" },
  { method: "HEAD", target: "/api/v1/namespaces/default/pods/web-1", verb: "get", resource: "pods", namespace: "default", name: "web-1" },
  { method: "HEAD", target: "/api/v1/namespaces/default/pods", verb: "list", resource: "pods", namespace: "default" },
  { method: "POST", target: "/api/v1/namespaces/default/pods", verb: "create", resource: "pods", namespace: "default" },
  { method: "PUT", target: "/api/v1/namespaces/default/configmaps/cfg", verb: "update", resource: "configmaps", namespace: "default", name: "cfg" },
  { method: "PATCH", target: "/api/v1/namespaces/default/configmaps/cfg", verb: "patch", resource: "configmaps", namespace: "default", name: "cfg" },
  { method: "DELETE", target: "/api/v1/namespaces/default/pods/debug-1", verb: "delete", resource: "pods", namespace: "default", name: "debug-1" },
  { method: "DELETE", target: "/api/v1/namespaces/default/pods", verb: "deletecollection", resource: "pods", namespace: "default" },
  { method: "GET", target: "/api/v1/namespaces/kube-system/secrets/token", verb: "get", resource: "secrets", namespace: "kube-system", name: "token" },
  // core group, cluster-scoped and all-namespaces
  { method: "GET", target: "/api/v1/pods", verb: "list", resource: "pods" },
  { method: "GET", target: "/api/v1/nodes", verb: "list", resource: "nodes" },
  { method: "GET", target: "/api/v1/nodes/node-a", verb: "get", resource: "nodes", name: "node-a" },
  { method: "PATCH", target: "/api/v1/nodes/node-a", verb: "patch", resource: "nodes", name: "node-a" },
  { method: "PATCH", target: "/api/v1/nodes/node-a/status", verb: "patch", resource: "nodes/status", name: "node-a" },
  { method: "GET", target: "/api/v1/nodes/node-a/proxy/metrics", verb: "get", resource: "nodes/proxy", name: "node-a" },
  { method: "GET", target: "/api/v1/persistentvolumes/pv-1", verb: "get", resource: "persistentvolumes", name: "pv-1" },
  // the namespaces resource itself
  { method: "GET", target: "/api/v1/namespaces", verb: "list", resource: "namespaces" },
  { method: "POST", target: "/api/v1/namespaces", verb: "create", resource: "namespaces" },
  { method: "GET", target: "/api/v1/namespaces/foo", verb: "get", resource: "namespaces", namespace: "foo", name: "foo" },
  { method: "DELETE", target: "/api/v1/namespaces/foo", verb: "delete", resource: "namespaces", namespace: "foo", name: "foo" },
  { method: "PUT", target: "/api/v1/namespaces/foo/status", verb: "update", resource: "namespaces/status", namespace: "foo", name: "foo" },
  { method: "PUT", target: "/api/v1/namespaces/foo/finalize", verb: "update", resource: "namespaces/finalize", namespace: "foo", name: "foo" },
  // subresources
  { method: "POST", target: "/api/v1/namespaces/ns/pods/web-1/exec?command=ls", verb: "create", resource: "pods/exec", namespace: "ns", name: "web-1" },
  { method: "GET", target: "/api/v1/namespaces/ns/pods/web-1/exec?command=ls&stdin=true", verb: "get", resource: "pods/exec", namespace: "ns", name: "web-1" },
  { method: "POST", target: "/api/v1/namespaces/ns/pods/web-1/attach?stdin=true&tty=true", verb: "create", resource: "pods/attach", namespace: "ns", name: "web-1" },
  { method: "GET", target: "/api/v1/namespaces/ns/pods/debug-x/portforward?ports=8080", verb: "get", resource: "pods/portforward", namespace: "ns", name: "debug-x" },
  { method: "POST", target: "/api/v1/namespaces/ns/pods/web-1/portforward", verb: "create", resource: "pods/portforward", namespace: "ns", name: "web-1" },
  { method: "GET", target: "/api/v1/namespaces/ns/pods/web-1/log?container=app&follow=true", verb: "get", resource: "pods/log", namespace: "ns", name: "web-1" },
  { method: "POST", target: "/api/v1/namespaces/ns/pods/web-1/eviction", verb: "create", resource: "pods/eviction", namespace: "ns", name: "web-1" },
  { method: "PATCH", target: "/api/v1/namespaces/ns/pods/web-1/status", verb: "patch", resource: "pods/status", namespace: "ns", name: "web-1" },
  { method: "PATCH", target: "/api/v1/namespaces/ns/pods/web-1/ephemeralcontainers", verb: "patch", resource: "pods/ephemeralcontainers", namespace: "ns", name: "web-1" },
  { method: "GET", target: "/api/v1/namespaces/ns/services/web:http/proxy/healthz/deep", verb: "get", resource: "services/proxy", namespace: "ns", name: "web:http" },
  { method: "POST", target: "/api/v1/namespaces/ns/serviceaccounts/builder/token", verb: "create", resource: "serviceaccounts/token", namespace: "ns", name: "builder" },
  // named groups
  { method: "GET", target: "/apis/apps/v1/namespaces/ns/deployments", verb: "list", resource: "deployments", namespace: "ns", group: "apps" },
  { method: "PUT", target: "/apis/apps/v1/namespaces/ns/deployments/web/scale", verb: "update", resource: "deployments/scale", namespace: "ns", name: "web", group: "apps" },
  { method: "PATCH", target: "/apis/apps/v1/namespaces/ns/deployments/web/status", verb: "patch", resource: "deployments/status", namespace: "ns", name: "web", group: "apps" },
  { method: "GET", target: "/apis/batch/v1/jobs", verb: "list", resource: "jobs", group: "batch" },
  { method: "POST", target: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", verb: "create", resource: "clusterrolebindings", group: "rbac.authorization.k8s.io" },
  { method: "DELETE", target: "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/rolebindings/rb", verb: "delete", resource: "rolebindings", namespace: "ns", name: "rb", group: "rbac.authorization.k8s.io" },
  { method: "GET", target: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", verb: "get", resource: "customresourcedefinitions", name: "widgets.example.com", group: "apiextensions.k8s.io" },
  { method: "DELETE", target: "/apis/example.com/v1alpha1/namespaces/ns/widgets", verb: "deletecollection", resource: "widgets", namespace: "ns", group: "example.com" },
  { method: "PUT", target: "/apis/certificates.k8s.io/v1/certificatesigningrequests/csr-1/approval", verb: "update", resource: "certificatesigningrequests/approval", name: "csr-1", group: "certificates.k8s.io" },
  // watch, both ways
  { method: "GET", target: "/api/v1/namespaces/ns/pods?watch=true", verb: "watch", resource: "pods", namespace: "ns" },
  { method: "GET", target: "/api/v1/pods?watch=1&resourceVersion=10", verb: "watch", resource: "pods" },
  { method: "GET", target: "/api/v1/pods?watch=false", verb: "list", resource: "pods" },
  { method: "GET", target: "/api/v1/pods?watch=0", verb: "list", resource: "pods" },
  { method: "GET", target: "/apis/apps/v1/deployments?watch=True", verb: "watch", resource: "deployments", group: "apps" },
  { method: "GET", target: "/api/v1/watch/namespaces/ns/pods", verb: "watch", resource: "pods", namespace: "ns" },
  { method: "GET", target: "/api/v1/watch/pods", verb: "watch", resource: "pods" },
  { method: "GET", target: "/api/v1/watch/namespaces/ns/pods/web-1", verb: "watch", resource: "pods", namespace: "ns", name: "web-1" },
  { method: "GET", target: "/api/v1/watch/namespaces", verb: "watch", resource: "namespaces" },
  { method: "GET", target: "/apis/apps/v1/watch/namespaces/ns/deployments", verb: "watch", resource: "deployments", namespace: "ns", group: "apps" },
  // the API server's rule: watch= only turns a collection GET into a watch
  { method: "GET", target: "/api/v1/namespaces/ns/pods/web-1?watch=true", verb: "get", resource: "pods", namespace: "ns", name: "web-1" },
  // legacy proxy verb
  { method: "GET", target: "/api/v1/proxy/namespaces/ns/pods/web-1/some/path", verb: "proxy", resource: "pods", namespace: "ns", name: "web-1" },
  // discovery / non-resource → meta
  { method: "GET", target: "/api", verb: "meta", resource: "" },
  { method: "GET", target: "/api/v1", verb: "meta", resource: "" },
  { method: "GET", target: "/api/v1/", verb: "meta", resource: "" },
  { method: "GET", target: "/apis", verb: "meta", resource: "" },
  { method: "GET", target: "/apis/apps", verb: "meta", resource: "" },
  { method: "GET", target: "/apis/apps/v1", verb: "meta", resource: "" },
  { method: "GET", target: "/version", verb: "meta", resource: "" },
  { method: "GET", target: "/version/?timeout=32s", verb: "meta", resource: "" },
  { method: "GET", target: "/healthz", verb: "meta", resource: "" },
  { method: "GET", target: "/readyz/etcd?verbose", verb: "meta", resource: "" },
  { method: "GET", target: "/livez", verb: "meta", resource: "" },
  { method: "GET", target: "/openapi/v2", verb: "meta", resource: "" },
  { method: "GET", target: "/openapi/v3/apis/apps/v1", verb: "meta", resource: "" },
  { method: "HEAD", target: "/version", verb: "meta", resource: "" },
  { method: "GET", target: "/.well-known/openid-configuration", verb: "meta", resource: "" },
  { method: "GET", target: "/openid/v1/jwks", verb: "meta", resource: "" },
  // other non-resource paths: not meta (they are not harmless metadata)
  { method: "GET", target: "/logs/kube-apiserver.log", verb: "get", resource: "" },
  { method: "GET", target: "/debug/pprof/profile", verb: "get", resource: "" },
  { method: "GET", target: "/metrics", verb: "get", resource: "" },
  { method: "GET", target: "/", verb: "get", resource: "" },
  { method: "POST", target: "/apis", verb: "create", resource: "" },
  // unknown methods keep their name as the verb
  { method: "OPTIONS", target: "/api/v1/pods", verb: "options", resource: "pods" },
  // absolute-form URL and percent-escapes the API server would decode
  { method: "GET", target: "https://10.0.0.7:6443/api/v1/namespaces/ns/secrets/s1", verb: "get", resource: "secrets", namespace: "ns", name: "s1" },
  { method: "GET", target: "/api/v1/namespaces/ns/secre%74s", verb: "list", resource: "secrets", namespace: "ns" },
  // a trailing slash is fine
  { method: "GET", target: "/api/v1/namespaces/ns/pods/", verb: "list", resource: "pods", namespace: "ns" },
];

describe("buildK8sFacets path table", () => {
  assert.ok(TABLE.length >= 30);
  for (const r of TABLE) {
    it(`${r.method} ${r.target}`, () => {
      const { facets, unknown } = buildK8sFacets(r.method, r.target);
      assert.deepEqual(unknown, []);
      assert.deepEqual(
        { verb: facets.verb, resource: facets.resource, namespace: facets.namespace, name: facets.name, group: facets.group },
        { verb: r.verb, resource: r.resource, namespace: r.namespace ?? "", name: r.name ?? "", group: r.group ?? "" },
      );
    });
  }
});

describe("buildK8sFacets query parameters", () => {
  it("params takes the first value, query keeps every command", () => {
    const { facets } = buildK8sFacets(
      "POST",
      "/api/v1/namespaces/ns/pods/web-1/exec?command=sh&command=-c&command=cat%20%2Fetc%2Fshadow&container=app&stdin=true&stdout=true&tty=false",
    );
    assert.equal(facets.resource, "pods/exec");
    assert.equal(facets.params["command"], "sh");
    assert.equal(facets.params["stdin"], "true");
    assert.equal(facets.params["container"], "app");
    assert.deepEqual(facets.query["command"], ["sh", "-c", "cat /etc/shadow"]);
    assert.deepEqual(facets.query["tty"], ["false"]);
    assert.deepEqual(Object.keys(facets.params).sort(), ["command", "container", "stdin", "stdout", "tty"]);
  });
  it("no query → empty maps (so `'stdin' in k8s.params` is false)", () => {
    const { facets } = buildK8sFacets("GET", "/api/v1/pods");
    assert.deepEqual(Object.keys(facets.params), []);
    assert.deepEqual(Object.keys(facets.query), []);
    assert.equal(Object.getPrototypeOf(facets.params), null);
  });
  it("a query on a meta path is still parsed", () => {
    const { facets } = buildK8sFacets("GET", "/version?timeout=32s");
    assert.equal(facets.verb, "meta");
    assert.equal(facets.params["timeout"], "32s");
  });
});

describe("buildK8sFacets reference rule shapes", () => {
  it("k8s-no-interactive sees pods/exec with stdin=true", () => {
    const { facets } = buildK8sFacets("GET", "/api/v1/namespaces/ns/pods/web/exec?command=bash&stdin=true&tty=true");
    assert.ok(["pods/exec", "pods/attach"].includes(facets.resource) && facets.params["stdin"] === "true");
  });
  it("k8s-no-portforward-non-debug sees the pod name", () => {
    const { facets } = buildK8sFacets("POST", "/api/v1/namespaces/ns/pods/web/portforward");
    assert.ok(facets.resource === "pods/portforward" && !facets.name.startsWith("debug-"));
  });
  it("drain's eviction is create on pods/eviction, not a verb of its own", () => {
    const { facets } = buildK8sFacets("POST", "/api/v1/namespaces/ns/pods/web/eviction");
    assert.equal(facets.verb, "create");
    assert.equal(facets.resource, "pods/eviction");
  });
});

describe("buildK8sFacets malformed paths fail closed", () => {
  const malformed: Array<[string, string]> = [
    ["GET", "/api/v1/namespaces/ns/pods/../secrets"],
    ["GET", "/api/v1/namespaces/ns/./secrets"],
    ["GET", "/api/v1/namespaces/ns/pods/%2E%2E/secrets"],
    ["GET", "/api/v1/namespaces//secrets"],
    ["GET", "//api/v1/secrets"],
    ["GET", "/api/v1/secrets//"],
    ["GET", "/api/v1/namespaces/ns/secre%zzts"],
    ["GET", "/api/v1/watch"],
    ["GET", "/apis/apps/v1/watch/"],
    ["GET", "/api/v1/namespaces/ns/pods/web/log/extra"],
    ["GET", "/healthz/../api/v1/secrets"],
    ["GET", "/version/%2e%2e/api/v1/namespaces/ns/secrets"],
    ["GET", "api/v1/pods"],
    ["GET", "/api/v1/namespaces%2Fns%2Fsecrets"],
    ["GET", "/api/v1/namespaces/ns/pods/a%2fb"],
    ["GET", "/api/v1/namespaces/ns/pods/a\\..\\secrets"],
    ["GET", ""],
  ];
  for (const [method, target] of malformed) {
    it(`${method} ${JSON.stringify(target)}`, () => {
      const { facets, unknown } = buildK8sFacets(method, target);
      assert.equal(facets.resource, K8S_UNPARSEABLE_RESOURCE);
      assert.notEqual(facets.verb, "meta");
      assert.deepEqual(
        unknown.map((u) => u.field),
        [...K8S_PATH_FIELDS],
      );
      assert.ok(unknown.every((u) => u.cause === "unparseable"));
    });
  }
  it("keeps a best-effort namespace and verb for the audit trail", () => {
    const { facets } = buildK8sFacets("DELETE", "/api/v1/namespaces/ns/pods/../secrets");
    assert.equal(facets.namespace, "ns");
    assert.equal(facets.verb, "delete");
  });
  it("never throws on garbage", () => {
    const junk = ["%", "/%", "?", "/api/v1/%", "/api/v1/namespaces/%E0%A4%A", "\u0000", "/api/v1/pods?%zz=%", "http://", "/\uD800"];
    for (const t of junk) for (const m of ["GET", "", "weird method"]) buildK8sFacets(m, t);
  });
});

describe("k8sFacetsFromParts", () => {
  it("lower-cases the verb and mirrors params into query", () => {
    const f = k8sFacetsFromParts({ verb: "GET", resource: "secrets", namespace: "default", params: { stdin: "true" } });
    assert.equal(f.verb, "get");
    assert.equal(f.resource, "secrets");
    assert.equal(f.name, "");
    assert.equal(f.group, "");
    assert.equal(f.params["stdin"], "true");
    assert.deepEqual(f.query["stdin"], ["true"]);
  });
});
