import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  buildHttpFacets,
  canonicalHeaderKey,
  canonicalHeaders,
  httpFacetsFromParts,
  isJsonContentType,
  parseQuery,
  percentDecode,
  rawHeaderPairs,
  splitTarget,
} from "./http.js";

/** Null-prototype records → plain objects, for deepEqual. */
function plain<T>(rec: Record<string, T>): Record<string, T> {
  return { ...rec };
}

describe("canonicalHeaderKey", () => {
  const cases: Array<[string, string]> = [
    ["content-type", "Content-Type"],
    ["x-api-key", "X-Api-Key"],
    ["CONTENT-LENGTH", "Content-Length"],
    ["authorization", "Authorization"],
    ["x-forwarded-for", "X-Forwarded-For"],
    ["www-authenticate", "Www-Authenticate"],
    ["x_custom", "X_custom"],
    ["a--b", "A--B"],
    ["-x", "-X"],
    ["etag", "Etag"],
    ["x-123abc", "X-123abc"],
    // not a token: Go leaves it alone
    ["bad header", "bad header"],
    ["ünicode-key", "ünicode-key"],
    ["x:y", "x:y"],
    ["", ""],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => {
      assert.equal(canonicalHeaderKey(input), want);
    });
  }
});

describe("canonicalHeaders", () => {
  it("merges pairs that canonicalise alike, keeping wire order", () => {
    const h = canonicalHeaders([
      ["accept", "a"],
      ["Accept", "b"],
      ["ACCEPT", "c"],
      ["x-a", "1"],
    ]);
    assert.deepEqual(plain(h), { Accept: ["a", "b", "c"], "X-A": ["1"] });
  });
  it("accepts a record of strings and lists", () => {
    const h = canonicalHeaders({ "set-cookie": ["a=1", "b=2"], host: "x", skipped: undefined });
    assert.deepEqual(plain(h), { "Set-Cookie": ["a=1", "b=2"], Host: ["x"] });
  });
  it("pairs Node's flat rawHeaders", () => {
    assert.deepEqual(rawHeaderPairs(["a", "1", "b", "2", "dangling"]), [
      ["a", "1"],
      ["b", "2"],
    ]);
  });
  it("treats __proto__ as an ordinary header name", () => {
    const h = canonicalHeaders([["__proto__", "x"]]);
    assert.equal(Object.getPrototypeOf(h), null);
    assert.deepEqual(h["__proto__"], ["x"]);
  });
});

describe("parseQuery", () => {
  const cases: Array<[string, Record<string, string[]>]> = [
    ["", {}],
    ["a=1", { a: ["1"] }],
    ["a=1&a=2", { a: ["1", "2"] }],
    ["a=1&b=2&a=3", { a: ["1", "3"], b: ["2"] }],
    ["q=hello+world", { q: ["hello world"] }],
    ["q=hello%20world%21", { q: ["hello world!"] }],
    ["k%20ey=v", { "k ey": ["v"] }],
    ["name=%C3%A9t%C3%A9", { name: ["été"] }],
    ["plus=%2B", { plus: ["+"] }],
    ["flag", { flag: [""] }],
    ["flag=", { flag: [""] }],
    ["a=b=c", { a: ["b=c"] }],
    ["=x", { "": ["x"] }],
    ["&&a=1&&", { a: ["1"] }],
    ["bad=%zz&ok=1", { bad: ["%zz"], ok: ["1"] }],
    ["trail=%4", { trail: ["%4"] }],
    ["x=1;y=2", { x: ["1;y=2"] }],
    ["command=sh&command=-c&command=ls%20-la", { command: ["sh", "-c", "ls -la"] }],
    ["__proto__=p", { ["__proto__"]: ["p"] }],
  ];
  for (const [raw, want] of cases) {
    it(JSON.stringify(raw), () => {
      const got = parseQuery(raw);
      assert.equal(Object.getPrototypeOf(got), null);
      assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort());
      for (const k of Object.keys(want)) assert.deepEqual(got[k], want[k]);
    });
  }
});

describe("percentDecode", () => {
  it("strict mode refuses a malformed escape", () => {
    assert.equal(percentDecode("/a%zz", false, true), undefined);
    assert.equal(percentDecode("/a%2", false, true), undefined);
    assert.equal(percentDecode("/a%2F", false, true), "/a/");
  });
  it("path mode keeps + as +", () => {
    assert.equal(percentDecode("a+b", false, true), "a+b");
  });
  it("invalid UTF-8 becomes U+FFFD", () => {
    assert.equal(percentDecode("%FF", true, false), "\uFFFD");
  });
});

describe("splitTarget", () => {
  const cases: Array<[string, string, string]> = [
    ["/repos/x?per_page=100", "/repos/x", "per_page=100"],
    ["/a%20b/c?", "/a%20b/c", ""],
    ["/plain", "/plain", ""],
    ["https://api.github.com/user?x=1", "/user", "x=1"],
    ["https://api.github.com", "/", ""],
    ["https://api.github.com?x=1", "/", "x=1"],
    ["*", "*", ""],
    ["/p?a=1?b=2", "/p", "a=1?b=2"],
  ];
  for (const [target, path, q] of cases) {
    it(target, () => assert.deepEqual(splitTarget(target), { path, rawQuery: q }));
  }
});

describe("isJsonContentType", () => {
  const yes = [
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    " application/json ",
    "application/vnd.github+json",
    "application/merge-patch+json",
    "application/problem+json;q=1",
  ];
  const no = ["text/plain", "application/x-www-form-urlencoded", "text/json", "application/jsonp", "application/+json", "json", ""];
  for (const ct of yes) it(`${JSON.stringify(ct)} is JSON`, () => assert.equal(isJsonContentType(ct), true));
  for (const ct of no) it(`${JSON.stringify(ct)} is not JSON`, () => assert.equal(isJsonContentType(ct), false));
});

describe("buildHttpFacets", () => {
  it("builds every field from a wire request", () => {
    const body = new TextEncoder().encode('{"title":"x","n":3,"nested":{"ok":true},"list":[1,"a"]}');
    const { facets, unknown } = buildHttpFacets({
      method: "POST",
      target: "/repos/o/r/issues?labels=a&labels=b&q=hello+w%6Frld",
      headers: [
        ["content-type", "application/json; charset=utf-8"],
        ["x-api-key", "***"],
        ["accept", "a"],
        ["Accept", "b"],
      ],
      body,
    });
    assert.deepEqual(unknown, []);
    assert.equal(facets.method, "post");
    assert.equal(facets.path, "/repos/o/r/issues");
    assert.deepEqual(plain(facets.query), { labels: ["a", "b"], q: ["hello world"] });
    assert.deepEqual(plain(facets.headers), {
      "Content-Type": ["application/json; charset=utf-8"],
      "X-Api-Key": ["***"],
      Accept: ["a", "b"],
    });
    assert.equal(facets.body, '{"title":"x","n":3,"nested":{"ok":true},"list":[1,"a"]}');
    assert.deepEqual(facets.body_json, { title: "x", n: 3, nested: { ok: true }, list: [1, "a"] });
    assert.equal(typeof (facets.body_json as { n: unknown }).n, "number");
  });

  it("keeps the path as on the wire (no decoding)", () => {
    const { facets } = buildHttpFacets({ method: "get", target: "/a%2Fb/%61dmin?x=%41" });
    assert.equal(facets.path, "/a%2Fb/%61dmin");
    assert.deepEqual(plain(facets.query), { x: ["A"] });
  });

  it("lower-cases any method", () => {
    for (const m of ["GET", "Delete", "PATCH", "PROPFIND"]) {
      assert.equal(buildHttpFacets({ method: m, target: "/" }).facets.method, m.toLowerCase());
    }
  });

  it("defaults: empty body, body_json {}, empty maps", () => {
    const { facets, unknown } = buildHttpFacets({ method: "GET", target: "/user" });
    assert.equal(facets.body, "");
    assert.deepEqual(facets.body_json, {});
    assert.deepEqual(plain(facets.query), {});
    assert.deepEqual(plain(facets.headers), {});
    assert.deepEqual(unknown, []);
  });

  it("body_json is {} for a non-JSON content type even if the body is JSON", () => {
    const { facets, unknown } = buildHttpFacets({
      method: "POST",
      target: "/",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: '{"a":1}',
    });
    assert.deepEqual(facets.body_json, {});
    assert.equal(facets.body, '{"a":1}');
    assert.deepEqual(unknown, []);
  });

  it("body_json is {} without a content type", () => {
    const { facets } = buildHttpFacets({ method: "POST", target: "/", body: '{"a":1}' });
    assert.deepEqual(facets.body_json, {});
  });

  it("parses +json vendor types", () => {
    const { facets } = buildHttpFacets({
      method: "PATCH",
      target: "/",
      headers: { "content-type": "application/merge-patch+json" },
      body: '{"spec":{"unschedulable":true}}',
    });
    assert.deepEqual(facets.body_json, { spec: { unschedulable: true } });
  });

  it("JSON arrays and scalars are kept as parsed", () => {
    const h = { "Content-Type": "application/json" };
    assert.deepEqual(buildHttpFacets({ method: "POST", target: "/", headers: h, body: "[1,2]" }).facets.body_json, [1, 2]);
    assert.equal(buildHttpFacets({ method: "POST", target: "/", headers: h, body: "null" }).facets.body_json, null);
  });

  it("an empty body under a JSON content type is {} and known", () => {
    const { facets, unknown } = buildHttpFacets({
      method: "GET",
      target: "/",
      headers: { "Content-Type": "application/json" },
      body: "  \n",
    });
    assert.deepEqual(facets.body_json, {});
    assert.deepEqual(unknown, []);
  });

  it("unparseable JSON under a JSON content type marks body_json unknown", () => {
    const { facets, unknown } = buildHttpFacets({
      method: "POST",
      target: "/",
      headers: { "Content-Type": "application/json" },
      body: '{"a":',
    });
    assert.deepEqual(unknown, [{ field: "http.body_json", cause: "unparseable" }]);
    assert.deepEqual(facets.body_json, {});
    assert.equal(facets.body, '{"a":');
  });

  it("a BOM makes JSON unparseable (kept as on the wire)", () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("{}")]);
    const { facets, unknown } = buildHttpFacets({
      method: "POST",
      target: "/",
      headers: { "Content-Type": "application/json" },
      body: bytes,
    });
    assert.equal(facets.body, "\uFEFF{}");
    assert.deepEqual(unknown, [{ field: "http.body_json", cause: "unparseable" }]);
  });

  it("a truncated body marks body and body_json unknown, keeps the prefix", () => {
    const { facets, unknown } = buildHttpFacets({
      method: "POST",
      target: "/",
      headers: { "Content-Type": "application/json" },
      body: '{"a":1,"b":',
      truncated: true,
    });
    assert.deepEqual(unknown, [
      { field: "http.body", cause: "truncated" },
      { field: "http.body_json", cause: "truncated" },
    ]);
    assert.equal(facets.body, '{"a":1,"b":');
    assert.deepEqual(facets.body_json, {});
  });

  it("truncation wins even when the prefix happens to parse", () => {
    const { unknown } = buildHttpFacets({
      method: "POST",
      target: "/",
      headers: { "Content-Type": "application/json" },
      body: "{}",
      truncated: true,
    });
    assert.deepEqual(
      unknown.map((u) => u.field),
      ["http.body", "http.body_json"],
    );
  });

  it("any JSON Content-Type value among several triggers parsing", () => {
    const { unknown } = buildHttpFacets({
      method: "POST",
      target: "/",
      headers: [
        ["Content-Type", "text/plain"],
        ["content-type", "application/json"],
      ],
      body: "not json",
    });
    assert.deepEqual(unknown, [{ field: "http.body_json", cause: "unparseable" }]);
  });

  it("decodes body bytes as UTF-8", () => {
    const { facets } = buildHttpFacets({ method: "POST", target: "/", body: new Uint8Array([0xc3, 0xa9, 0xff]) });
    assert.equal(facets.body, "é\uFFFD");
  });

  it("JSON __proto__ keys stay data", () => {
    const { facets } = buildHttpFacets({
      method: "POST",
      target: "/",
      headers: { "Content-Type": "application/json" },
      body: '{"__proto__":{"admin":true}}',
    });
    const bj = facets.body_json as Record<string, unknown>;
    assert.ok(Object.hasOwn(bj, "__proto__"));
    assert.equal(({} as Record<string, unknown>)["admin"], undefined);
  });
});

describe("httpFacetsFromParts", () => {
  it("takes query values as given and canonicalises header keys", () => {
    const { facets } = httpFacetsFromParts({
      method: "DELETE",
      path: "/repos/x",
      query: { per_page: ["100"], "a+b": ["%20"] },
      headers: { authorization: ["***"], "user-agent": ["t"] },
    });
    assert.equal(facets.method, "delete");
    assert.deepEqual(plain(facets.query), { per_page: ["100"], "a+b": ["%20"] });
    assert.deepEqual(plain(facets.headers), { Authorization: ["***"], "User-Agent": ["t"] });
  });
});
