import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Action, OpClass, SqlFacets } from "../action.js";
import { buildHttpFacets } from "./http.js";
import { buildK8sFacets } from "./k8s.js";
import { classifyOp, httpOpClass, k8sOpClass, opClassOf, sshOpClass } from "./opclass.js";
import { sshFacets } from "./ssh.js";

describe("httpOpClass", () => {
  const table: Array<[string, OpClass]> = [
    ["get", "read"],
    ["GET", "read"],
    ["head", "read"],
    ["options", "read"],
    ["post", "write"],
    ["PUT", "write"],
    ["patch", "write"],
    ["delete", "delete"],
    ["DELETE", "delete"],
    ["connect", "exec"],
    ["trace", "exec"],
    ["propfind", "exec"],
    ["mkcol", "exec"],
    ["", "exec"],
  ];
  for (const [m, want] of table) it(`${JSON.stringify(m)} → ${want}`, () => assert.equal(httpOpClass(m), want));
});

describe("k8sOpClass", () => {
  const table: Array<[verb: string, resource: string, group: string, want: OpClass]> = [
    ["get", "pods", "", "read"],
    ["list", "secrets", "", "read"],
    ["watch", "deployments", "apps", "read"],
    ["meta", "", "", "read"],
    ["get", "pods/log", "", "read"],
    ["list", "clusterroles", "rbac.authorization.k8s.io", "read"],
    ["get", "nodes", "", "read"],
    ["create", "pods", "", "write"],
    ["update", "configmaps", "", "write"],
    ["patch", "deployments", "apps", "write"],
    ["update", "deployments/scale", "apps", "write"],
    ["patch", "pods/status", "", "write"],
    ["create", "secrets", "", "write"],
    ["delete", "pods", "", "delete"],
    ["deletecollection", "pods", "", "delete"],
    ["delete", "deployments", "apps", "delete"],
    ["create", "pods/eviction", "", "delete"],
    ["create", "pods/exec", "", "exec"],
    ["get", "pods/exec", "", "exec"],
    ["create", "pods/attach", "", "exec"],
    ["get", "pods/attach", "", "exec"],
    ["get", "pods/portforward", "", "exec"],
    ["create", "pods/portforward", "", "exec"],
    ["get", "pods/proxy", "", "exec"],
    ["get", "services/proxy", "", "exec"],
    ["create", "services/proxy", "", "exec"],
    ["get", "nodes/proxy", "", "exec"],
    ["proxy", "pods", "", "exec"],
    ["patch", "pods/ephemeralcontainers", "", "exec"],
    ["get", "pods/ephemeralcontainers", "", "read"],
    ["create", "clusterrolebindings", "rbac.authorization.k8s.io", "admin"],
    ["patch", "roles", "rbac.authorization.k8s.io", "admin"],
    ["delete", "rolebindings", "rbac.authorization.k8s.io", "admin"],
    ["create", "rolebindings", "", "admin"], // fixtures carry no group
    ["create", "customresourcedefinitions", "apiextensions.k8s.io", "admin"],
    ["create", "mutatingwebhookconfigurations", "admissionregistration.k8s.io", "admin"],
    ["create", "anything", "admissionregistration.k8s.io", "admin"],
    ["update", "certificatesigningrequests/approval", "certificates.k8s.io", "admin"],
    ["create", "apiservices", "apiregistration.k8s.io", "admin"],
    ["create", "namespaces", "", "admin"],
    ["delete", "namespaces", "", "admin"],
    ["update", "namespaces/finalize", "", "admin"],
    ["patch", "nodes", "", "admin"], // cordon
    ["patch", "nodes/status", "", "admin"],
    ["deletecollection", "nodes", "", "admin"],
    ["create", "serviceaccounts/token", "", "admin"],
    ["create", "serviceaccounts", "", "write"],
    ["create", "selfsubjectaccessreviews", "authorization.k8s.io", "read"],
    ["create", "tokenreviews", "authentication.k8s.io", "read"],
    ["options", "pods", "", "exec"],
    ["connect", "pods", "", "exec"],
    ["", "pods", "", "exec"],
    ["GET", "pods", "", "read"],
  ];
  for (const [verb, resource, group, want] of table) {
    it(`${verb} ${resource}${group ? ` (${group})` : ""} → ${want}`, () => {
      assert.equal(k8sOpClass({ verb, resource, group }), want);
    });
  }
});

describe("sshOpClass", () => {
  for (const v of ["pty", "exec", "shell", "subsystem", "forward", "something-new"]) {
    it(`${v} → exec`, () => assert.equal(sshOpClass(v), "exec"));
  }
});

function sqlFacets(): SqlFacets {
  return { verb: "select", verbs: ["select"], tables: [], functions: [], statement: "SELECT 1", database: "" };
}

describe("opClassOf / classifyOp", () => {
  it("derives http from the method", () => {
    const a: Action = { family: "http", host: "h", http: buildHttpFacets({ method: "DELETE", target: "/x" }).facets };
    assert.equal(opClassOf(a), "delete");
  });
  it("derives k8s from the parsed request", () => {
    const k = buildK8sFacets("POST", "/api/v1/namespaces/ns/pods/web/exec?command=ls").facets;
    assert.equal(opClassOf({ family: "k8s", host: "h", k8s: k }), "exec");
  });
  it("derives ssh", () => {
    assert.equal(opClassOf({ family: "ssh", host: "h", ssh: sshFacets({ verb: "forward" }) }), "exec");
  });
  it("returns a preset opClass as-is, whatever the facets say", () => {
    const a: Action = { family: "http", host: "h", http: buildHttpFacets({ method: "GET", target: "/" }).facets, opClass: "admin" };
    assert.equal(opClassOf(a), "admin");
    assert.equal(opClassOf({ family: "sql", host: "h", sql: sqlFacets(), opClass: "write" }), "write");
  });
  it("a sql action without opClass has none (the SQL analyzer owns it)", () => {
    assert.equal(opClassOf({ family: "sql", host: "h", sql: sqlFacets() }), undefined);
    assert.deepEqual(classifyOp({ family: "sql", host: "h", sql: sqlFacets() }), {});
  });
  it("a sql action already marking op.class unknown keeps it unknown", () => {
    const r = classifyOp({ family: "sql", host: "h", sql: sqlFacets(), unknown: [{ field: "op.class", cause: "unparseable" }] });
    assert.deepEqual(r, { unknown: { field: "op.class", cause: "unparseable" } });
  });
  it("an unparseable k8s path makes op.class unknown, with exec as the stand-in", () => {
    const { facets, unknown } = buildK8sFacets("GET", "/api/v1/namespaces/ns/pods/../secrets");
    const r = classifyOp({ family: "k8s", host: "h", k8s: facets, unknown });
    assert.deepEqual(r, { opClass: "exec", unknown: { field: "op.class", cause: "unparseable" } });
  });
  it("a truncated http body does not make op.class unknown", () => {
    const { facets, unknown } = buildHttpFacets({ method: "POST", target: "/", body: "x", truncated: true });
    assert.deepEqual(classifyOp({ family: "http", host: "h", http: facets, unknown }), { opClass: "write" });
  });
  it("truncated ssh stdin does not make op.class unknown", () => {
    const a: Action = { family: "ssh", host: "h", ssh: sshFacets({ verb: "exec" }), unknown: [{ field: "ssh.stdin", cause: "truncated" }] };
    assert.deepEqual(classifyOp(a), { opClass: "exec" });
  });
});
