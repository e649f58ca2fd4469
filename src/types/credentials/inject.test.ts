// Per credential type: what the agent sent (with its placeholder, with
// nothing, with some other token) → what goes upstream. The real secret
// must land in the type's auth slot and nowhere else.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CredentialTypeSpec, DecodedValue } from "../schema.js";
import type { HeaderField, InjectResult, SecretSlots } from "./http.js";
import { OutboundHttpRequest, applyHttpInjection } from "./http.js";
import { credentialType, specsOf } from "../registry.js";
import { pluginBlock } from "../testing.js";
import { setCookie } from "./cookie_token.js";
import { NOTION_DEFAULT_VERSION } from "./notion_oauth.js";

const SECRET = "real-SECRET-0123456789abcdef";
const PH = "PH_placeholder_1";
const OTHER = "other-token-zzz";
const b64 = (s: string) => Buffer.from(s).toString("base64");

interface Req {
  method?: string;
  target?: string;
  headers?: HeaderField[];
  body?: string;
  bodyTruncated?: boolean;
}

function slots(m: Record<string, string>): SecretSlots {
  return { get: (s?: string) => m[s ?? "secret"] };
}

function run(
  type: string,
  req: Req,
  opts: { fields?: Record<string, DecodedValue>; secrets?: Record<string, string>; placeholder?: string } = {},
): { req: OutboundHttpRequest; res: InjectResult } {
  const spec = credentialType(type)!;
  assert.ok(spec.http, `${type} has an http hook`);
  const r = new OutboundHttpRequest({
    method: req.method ?? "GET",
    target: req.target ?? "/v1/thing",
    headers: req.headers ?? [["Host", "api.example"]],
    ...(req.body !== undefined ? { body: Buffer.from(req.body) } : {}),
    bodyTruncated: req.bodyTruncated ?? false,
  });
  const block = pluginBlock("credential", type, "cred", opts.fields ?? {});
  const ctx = { secret: slots(opts.secrets ?? { secret: SECRET }), block, ...(opts.placeholder ? { placeholder: opts.placeholder } : {}) };
  return { req: r, res: applyHttpInjection(spec.http, r, ctx) };
}

/** The three agent shapes every header-auth type is tried with. */
function agentShapes(header: string, format: (token: string) => string): Array<[string, HeaderField[]]> {
  return [
    ["with placeholder", [["Host", "api.example"], [header, format(PH)], ["Accept", "*/*"]]],
    ["without", [["Host", "api.example"], ["Accept", "*/*"]]],
    ["with a different token", [["Host", "api.example"], [header, format(OTHER)], ["Accept", "*/*"], [header.toUpperCase(), format("dup")]]],
  ];
}

/** Asserts the secret occurs only in the allowed header names (lower case) and not in target/body. */
function secretOnlyIn(r: OutboundHttpRequest, allowed: string[], secret = SECRET): void {
  for (const [n, v] of r.headers) if (!allowed.includes(n.toLowerCase())) assert.ok(!v.includes(secret) && !n.includes(secret), `secret leaked into ${n}`);
  assert.ok(!r.target.includes(secret), "secret leaked into the target");
  if (r.body) assert.ok(!Buffer.from(r.body).toString("latin1").includes(secret), "secret leaked into the body");
}

const SIMPLE: Array<{ type: string; header: string; fields?: Record<string, DecodedValue>; agent: (t: string) => string; want: string }> = [
  { type: "bearer_token", header: "Authorization", agent: (t) => `Bearer ${t}`, want: `Bearer ${SECRET}` },
  { type: "github_oauth", header: "Authorization", agent: (t) => `token ${t}`, want: `Bearer ${SECRET}` },
  { type: "notion_oauth", header: "Authorization", agent: (t) => `Bearer ${t}`, want: `Bearer ${SECRET}` },
  { type: "header_token", header: "X-Honeycomb-Team", fields: { header: "x-honeycomb-team" }, agent: (t) => t, want: SECRET },
  { type: "header_token", header: "Authorization", fields: { header: "Authorization", prefix: "Token token=" }, agent: (t) => `Token token=${t}`, want: `Token token=${SECRET}` },
  { type: "basic_auth", header: "Authorization", fields: { username: "svc" }, agent: (t) => `Basic ${b64("svc:" + t)}`, want: `Basic ${b64("svc:" + SECRET)}` },
  { type: "anthropic_manual_key", header: "x-api-key", agent: (t) => t, want: SECRET },
  { type: "gemini_api_key", header: "x-goog-api-key", agent: (t) => t, want: SECRET },
];

test("header-auth types: the secret overwrites the slot whatever the agent sent, exactly once", () => {
  for (const c of SIMPLE) {
    for (const [shape, headers] of agentShapes(c.header, c.agent)) {
      const where = `${c.type} ${JSON.stringify(c.fields ?? {})} ${shape}`;
      const { req, res } = run(c.type, { headers }, c.fields ? { fields: c.fields } : {});
      assert.ok(res.ok, where);
      assert.deepEqual(req.headerValues(c.header), [c.want], where);
      // Other headers are untouched and in order.
      const rest = req.headers.filter(([n]) => ![c.header.toLowerCase(), "notion-version"].includes(n.toLowerCase()));
      assert.deepEqual(rest, [["Host", "api.example"], ["Accept", "*/*"]], where);
      secretOnlyIn(req, [c.header.toLowerCase()]);
      if (res.ok) assert.ok(res.injected.includes(SECRET), where);
    }
  }
});

test("a missing secret injects nothing and says which slot", () => {
  for (const spec of specsOf("credential")) {
    if (!spec.http) continue;
    const fields: Record<string, DecodedValue> = { header: "x-key", username: "u", cookie_name: "sid" };
    const before: HeaderField[] = [["Host", "api.example"], ["Authorization", `Bearer ${PH}`]];
    const { req, res } = run(spec.type, { target: "/bot123:PH/getMe?key=PH", headers: before }, { fields, secrets: {} });
    assert.equal(res.ok, false, spec.type);
    if (!res.ok) assert.match(res.error, /secret slot "\w+" missing/, spec.type);
    assert.deepEqual(req.headers, before, spec.type);
    assert.equal(req.target, "/bot123:PH/getMe?key=PH", spec.type);
  }
});

test("header-bound secrets with CR/LF are refused, never written", () => {
  for (const type of ["bearer_token", "github_oauth", "anthropic_manual_key", "gemini_api_key", "cookie_token", "header_token", "slack_tokens"]) {
    const { req, res } = run(type, {}, { fields: { header: "x-key", cookie_name: "sid" }, secrets: { secret: "abcd\r\nX-Evil: 1" } });
    assert.equal(res.ok, false, type);
    assert.deepEqual(req.headers, [["Host", "api.example"]], type);
  }
  // basic_auth base64-encodes, so any byte is fine in the password.
  const { req, res } = run("basic_auth", {}, { fields: { username: "u" }, secrets: { secret: "pa\r\nss" } });
  assert.ok(res.ok);
  assert.equal(req.header("authorization"), `Basic ${b64("u:pa\r\nss")}`);
});

test("bearer_token idempotency key: only on writes, stable, never over the agent's own", () => {
  const fields = { idempotency_key: true };
  const post = () => run("bearer_token", { method: "POST", target: "/v1/charges", body: "amount=100" }, { fields }).req;
  const k1 = post().header("idempotency-key");
  assert.match(k1 ?? "", /^cp1-[0-9a-f]{32}$/);
  assert.equal(post().header("idempotency-key"), k1, "stable across retries");
  const other = run("bearer_token", { method: "POST", target: "/v1/charges", body: "amount=200" }, { fields }).req;
  assert.notEqual(other.header("idempotency-key"), k1, "a different body, a different key");
  for (const method of ["GET", "HEAD", "OPTIONS", "TRACE", "get"]) {
    assert.equal(run("bearer_token", { method }, { fields }).req.header("idempotency-key"), undefined, method);
  }
  for (const method of ["PUT", "PATCH", "DELETE"]) assert.ok(run("bearer_token", { method }, { fields }).req.header("idempotency-key"), method);
  const own = run("bearer_token", { method: "POST", headers: [["idempotency-key", "agent-1"]] }, { fields }).req;
  assert.deepEqual(own.headerValues("Idempotency-Key"), ["agent-1"]);
  assert.equal(run("bearer_token", { method: "POST", body: "x", bodyTruncated: true }, { fields }).req.header("idempotency-key"), undefined);
  assert.equal(run("bearer_token", { method: "POST" }).req.header("idempotency-key"), undefined, "off by default");
  assert.ok(!k1!.includes(SECRET));
});

test("header_token refuses framing headers and an unusable prefix", () => {
  for (const header of ["Host", "content-length", "Transfer-Encoding", "connection"]) {
    const { res } = run("header_token", {}, { fields: { header } });
    assert.equal(res.ok, false, header);
  }
  assert.equal(run("header_token", {}, { fields: { header: "x-k", prefix: "a\nb" } }).res.ok, false);
  assert.equal(run("header_token", {}, { fields: { header: "bad header" } }).res.ok, false);
});

test("basic_auth: the pair is in the redaction set; placeholder-as-password is overwritten", () => {
  const { req, res } = run("basic_auth", { headers: [["Authorization", `Basic ${b64("agent:" + PH)}`]] }, { fields: { username: "svc" } });
  assert.equal(req.header("authorization"), `Basic ${b64("svc:" + SECRET)}`);
  assert.ok(res.ok && res.injected.includes(SECRET) && res.injected.includes(`svc:${SECRET}`));
  assert.equal(run("basic_auth", {}, { fields: { username: "a:b" } }).res.ok, false);
});

test("cookie_token: replaces the named cookie in place, keeps the others byte-exact", () => {
  const fields = { cookie_name: "sid" };
  const cases: Array<[string, HeaderField[], string]> = [
    ["placeholder", [["Cookie", `theme=dark; sid=${PH}; csrf=a=b`]], `theme=dark; sid=${SECRET}; csrf=a=b`],
    ["no cookies", [], `sid=${SECRET}`],
    ["other cookies only", [["cookie", "a=1;b=2"]], `a=1; b=2; sid=${SECRET}`],
    ["different token, twice, split lines", [["Cookie", `sid=${OTHER}; a=1`], ["cookie", `b=2; sid=x`]], `sid=${SECRET}; a=1; b=2`],
    ["similar names kept", [["Cookie", `sid2=x; xsid=y; SID=z`]], `sid2=x; xsid=y; SID=z; sid=${SECRET}`],
    ["flag cookie without =", [["Cookie", `flag; sid=${PH}`]], `flag; sid=${SECRET}`],
  ];
  for (const [name, headers, want] of cases) {
    const { req, res } = run("cookie_token", { headers: [["Host", "h"], ...headers, ["Accept", "*/*"]] }, { fields });
    assert.ok(res.ok, name);
    assert.deepEqual(req.headerValues("cookie"), [want], name);
    assert.equal(req.headers[0]![0], "Host", name);
    assert.deepEqual(req.headers.at(-1), headers.length > 0 ? ["Accept", "*/*"] : ["Cookie", want], name);
    secretOnlyIn(req, ["cookie"]);
  }
  assert.equal(run("cookie_token", {}, { fields: {} }).res.ok, false, "no cookie_name");
  assert.equal(run("cookie_token", {}, { fields, secrets: { secret: "abc;evil=1" } }).res.ok, false, "; in value");
  const r = new OutboundHttpRequest({ method: "GET", target: "/", headers: [["Cookie", "a=1"]] });
  setCookie(r, "a", "2");
  assert.deepEqual(r.headers, [["Cookie", "a=2"]]);
});

test("anthropic_manual_key removes a competing Authorization header", () => {
  const { req } = run("anthropic_manual_key", { headers: [["Authorization", `Bearer ${PH}`], ["x-api-key", PH], ["anthropic-version", "2023-06-01"]] });
  assert.deepEqual(req.headers, [["x-api-key", SECRET], ["anthropic-version", "2023-06-01"]]);
});

test("gemini_api_key: header always, key= query only when present", () => {
  const cases: Array<[string, string]> = [
    [`/v1beta/models/m:generateContent?key=${PH}&alt=sse`, `/v1beta/models/m:generateContent?key=${SECRET}&alt=sse`],
    ["/v1beta/models?pageSize=5", "/v1beta/models?pageSize=5"],
    ["/v1beta/models", "/v1beta/models"],
    [`/v1beta/models?alt=sse&key=${OTHER}`, `/v1beta/models?alt=sse&key=${SECRET}`],
  ];
  for (const [target, want] of cases) {
    const { req } = run("gemini_api_key", { target });
    assert.equal(req.target, want, target);
    assert.equal(req.header("x-goog-api-key"), SECRET);
  }
  const odd = run("gemini_api_key", { target: "/m?key=PH" }, { secrets: { secret: "AIza/x+y=z" } }).req;
  assert.equal(odd.target, "/m?key=AIza%2Fx%2By%3Dz");
  assert.equal(odd.queryParam("key"), "AIza/x+y=z");
});

test("github_oauth: bearer for the API, Basic x-access-token for git over HTTPS", () => {
  assert.equal(run("github_oauth", { headers: [["Authorization", `token ${PH}`]] }).req.header("authorization"), `Bearer ${SECRET}`);
  const git = run("github_oauth", { target: "/o/r.git/info/refs?service=git-upload-pack", headers: [["Authorization", `Basic ${b64("me:" + PH)}`]] });
  assert.equal(git.req.header("authorization"), `Basic ${b64("x-access-token:" + SECRET)}`);
  assert.ok(git.res.ok && git.res.injected.includes(`x-access-token:${SECRET}`));
});

test("notion_oauth: Notion-Version added only when absent", () => {
  assert.equal(run("notion_oauth", {}).req.header("notion-version"), NOTION_DEFAULT_VERSION);
  assert.deepEqual(run("notion_oauth", { headers: [["Notion-Version", "2025-09-03"]] }).req.headerValues("notion-version"), ["2025-09-03"]);
});

test("slack_tokens: the token kind follows what the agent presented", () => {
  const secrets = { bot: "xoxb-real-bot", app: "xapp-real-app", user: "xoxp-real-user", signing_secret: "sign-real" };
  const auth = (t: string): HeaderField[] => [["Authorization", `Bearer ${t}`]];
  const cases: Array<[string, Req, string]> = [
    ["bot placeholder", { target: "/api/chat.postMessage", headers: auth("xoxb-placeholder") }, "xoxb-real-bot"],
    ["app placeholder", { target: "/api/apps.connections.open", headers: auth("xapp-placeholder") }, "xapp-real-app"],
    ["user placeholder", { target: "/api/search.messages", headers: auth("xoxp-placeholder") }, "xoxp-real-user"],
    ["plain placeholder", { target: "/api/chat.postMessage", headers: auth(PH) }, "xoxb-real-bot"],
    ["nothing, apps method", { target: "/api/apps.connections.open", headers: [] }, "xapp-real-app"],
    ["nothing, other method", { target: "/api/conversations.list", headers: [] }, "xoxb-real-bot"],
    ["query token", { target: "/api/auth.test?token=xoxp-ph&pretty=1", headers: [] }, "xoxp-real-user"],
  ];
  for (const [name, req, want] of cases) {
    const r = run("slack_tokens", req, { secrets });
    assert.ok(r.res.ok, name);
    assert.deepEqual(r.req.headerValues("authorization"), [`Bearer ${want}`], name);
    assert.equal(r.req.queryParam("token"), undefined, name);
    for (const v of Object.values(secrets)) if (v !== want) assert.ok(!JSON.stringify(r.req.headers).includes(v), `${name}: ${v}`);
  }
  assert.equal(run("slack_tokens", { target: "/api/auth.test?token=xoxp-ph&pretty=1" }, { secrets }).req.target, "/api/auth.test?pretty=1");
  // The primary slot stands in for an unset bot slot.
  assert.equal(run("slack_tokens", {}, { secrets: { secret: "xoxb-primary" } }).req.header("authorization"), "Bearer xoxb-primary");
  // A missing chosen slot never falls back to another identity.
  const noUser = run("slack_tokens", { headers: auth("xoxp-ph") }, { secrets: { bot: "xoxb-real-bot" } });
  assert.deepEqual(noUser.res, { ok: false, error: 'secret slot "user" missing' });
  assert.deepEqual(noUser.req.headers, auth("xoxp-ph"));
  // Apps methods without an app token use the bot token.
  assert.equal(run("slack_tokens", { target: "/api/apps.x" }, { secrets: { bot: "xoxb-real-bot" } }).req.header("authorization"), "Bearer xoxb-real-bot");
});

test("slack_tokens: a form-body token is removed, other fields byte-exact", () => {
  const headers: HeaderField[] = [["Content-Type", "application/x-www-form-urlencoded"], ["Content-Length", "45"]];
  const body = "channel=C1&token=xoxb-ph&text=h%C3%A9llo+there";
  const r = run("slack_tokens", { method: "POST", target: "/api/chat.postMessage", headers, body }, { secrets: { bot: "xoxb-real-bot" } });
  assert.equal(Buffer.from(r.req.body!).toString(), "channel=C1&text=h%C3%A9llo+there");
  assert.equal(r.req.header("content-length"), String("channel=C1&text=h%C3%A9llo+there".length));
  assert.ok(r.req.bodyChanged);
  const json = run("slack_tokens", { method: "POST", headers: [["Content-Type", "application/json"]], body: '{"token":"x"}' }, { secrets: { bot: "xoxb-real-bot" } });
  assert.equal(json.req.bodyChanged, false);
});

test("telegram_bot_token: the /bot<token>/ segment is replaced", () => {
  const cases: Array<[string, string]> = [
    [`/bot${PH}/sendMessage?chat_id=1`, "/bot123456:ABC-real_tok/sendMessage?chat_id=1"],
    ["/bot/getMe", "/bot123456:ABC-real_tok/getMe"],
    ["/file/botOLD/photos/file_1.jpg", "/file/bot123456:ABC-real_tok/photos/file_1.jpg"],
    ["/botX", "/bot123456:ABC-real_tok"],
  ];
  for (const [target, want] of cases) {
    const { req, res } = run("telegram_bot_token", { target }, { secrets: { secret: "123456:ABC-real_tok" } });
    assert.ok(res.ok, target);
    assert.equal(req.target, want, target);
  }
  assert.equal(run("telegram_bot_token", { target: "/getMe" }).res.ok, false);
  assert.equal(run("telegram_bot_token", { target: "/botPH/x" }, { secrets: { secret: "a/b c" } }).req.path, "/bota%2Fb%20c/x");
});

test("every HTTP type: the secret lands only in its own slot, for all agent shapes", () => {
  const own: Record<string, { fields?: Record<string, DecodedValue>; slots: string[]; target?: string }> = {
    bearer_token: { slots: ["authorization"] },
    github_oauth: { slots: ["authorization"] },
    notion_oauth: { slots: ["authorization"] },
    header_token: { fields: { header: "x-k" }, slots: ["x-k"] },
    basic_auth: { fields: { username: "u" }, slots: [] }, // base64 only
    cookie_token: { fields: { cookie_name: "sid" }, slots: ["cookie"] },
    anthropic_manual_key: { slots: ["x-api-key"] },
    gemini_api_key: { slots: ["x-goog-api-key"] },
    slack_tokens: { slots: ["authorization"] },
    telegram_bot_token: { slots: [], target: `/bot${PH}/getMe` },
  };
  const withHttp = specsOf("credential").filter((s): s is CredentialTypeSpec & Required<Pick<CredentialTypeSpec, "http">> => !!s.http);
  assert.deepEqual(withHttp.map((s) => s.type).sort(), Object.keys(own).sort());
  const everywhere: HeaderField[] = [
    ["Authorization", `Bearer ${PH}`], ["x-api-key", PH], ["x-goog-api-key", PH], ["Cookie", `sid=${PH}; other=${PH}`], ["x-k", PH], ["X-Echo", PH],
  ];
  for (const spec of withHttp) {
    const o = own[spec.type]!;
    for (const headers of [everywhere, [], [["Authorization", `Bearer ${OTHER}`]] as HeaderField[]]) {
      const { req, res } = run(spec.type, { target: o.target ?? `/x?key=${PH}&q=${PH}`, headers, method: "POST", body: `a=${PH}` }, { ...(o.fields ? { fields: o.fields } : {}) });
      assert.ok(res.ok, spec.type);
      const allowed = [...o.slots];
      for (const [n, v] of req.headers) if (!allowed.includes(n.toLowerCase())) assert.ok(!v.includes(SECRET), `${spec.type}: secret in ${n}`);
      if (spec.type !== "gemini_api_key" && spec.type !== "telegram_bot_token") assert.ok(!req.target.includes(SECRET), `${spec.type}: target`);
      assert.ok(!Buffer.from(req.body!).toString().includes(SECRET), `${spec.type}: body`);
      assert.ok(res.ok && res.injected.includes(SECRET), `${spec.type}: injected lists the secret`);
    }
  }
});

test("mtls_credential: upstreamTls hook only, slots cert/key/ca, bad material reported without quoting it", () => {
  const spec = credentialType("mtls_credential")!;
  assert.equal(spec.http, undefined);
  assert.deepEqual(spec.upstreamTls!.slots.map((s) => s.name), ["cert", "key", "ca"]);
  const block = pluginBlock("credential", "mtls_credential", "k8s", {});
  const missing = spec.upstreamTls!.resolve({ secret: slots({ cert: "x" }), block });
  assert.deepEqual(missing, { ok: false, error: 'secret slot "key" missing' });
  const garbage = spec.upstreamTls!.resolve({ secret: slots({ cert: "not a pem", key: "SECRET-KEY-BYTES" }), block });
  assert.equal(garbage.ok, false);
  if (!garbage.ok) assert.ok(!garbage.error.includes("SECRET-KEY-BYTES"));
});

/** A throwaway self-signed P-256 certificate and key, made by the real openssl. */
function selfSigned(cn: string): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "cp-mtls-"));
  try {
    const [key, cert] = [join(dir, "k.pem"), join(dir, "c.pem")];
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${cn}`, "-days", "1", "-keyout", key, "-out", cert,
    ], { stdio: "ignore" });
    return { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("mtls_credential: a matching pair (and optional CA) comes back as PEM; a mismatched key is refused", () => {
  const spec = credentialType("mtls_credential")!;
  const block = pluginBlock("credential", "mtls_credential", "k8s", {});
  const a = selfSigned("client-a");
  const b = selfSigned("client-b");
  assert.deepEqual(spec.upstreamTls!.resolve({ secret: slots({ cert: a.cert, key: a.key }), block }), { ok: true, tls: { certPem: a.cert, keyPem: a.key } });
  assert.deepEqual(spec.upstreamTls!.resolve({ secret: slots({ cert: a.cert, key: a.key, ca: b.cert }), block }), {
    ok: true,
    tls: { certPem: a.cert, keyPem: a.key, caPem: b.cert },
  });
  const mismatch = spec.upstreamTls!.resolve({ secret: slots({ cert: a.cert, key: b.key }), block });
  assert.deepEqual(mismatch, { ok: false, error: 'slot "key" does not match the certificate in slot "cert"' });
});
