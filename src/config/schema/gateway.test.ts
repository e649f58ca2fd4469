import { test } from "node:test";
import assert from "node:assert/strict";
import type { Diagnostic } from "../diagnostics.js";
import type { BlockSchema, DecodedSingleton, DecodedValue } from "../../types/schema.js";
import { singleton } from "../../types/testing.js";
import { errorsOf, loadText } from "../testing.js";
import { MAX_SCHEMA_VERSION, defaultsSchema, fileSchema, forwardSchema, gatewaySchema, pluginSchema, proxySchema } from "./gateway.js";
import {
  checkSchemaVersion,
  operatorEntryError,
  validateDefaults,
  validateGateway,
  validateLimits,
  validatePlugin,
  validateTransportProfiles,
} from "./checks.js";

const lines = (ds: Diagnostic[]) => ds.map((d) => `${d.severity}: ${d.summary} — ${d.detail ?? ""}`);

function gw(fields: Record<string, DecodedValue>, blocks: Record<string, Record<string, DecodedValue>> = {}): DecodedSingleton {
  const nested: Record<string, DecodedSingleton[]> = {};
  for (const [k, v] of Object.entries(blocks)) nested[k] = [singleton(v)];
  return singleton(fields, nested);
}

const HARNESS = gw({ state_dir: "/opt/clawpatrol", public_url: "https://gw.example.test" }, { wireguard: { subnet_cidr: "10.55.0.0/24" } });

test("valid gateways stay silent", () => {
  assert.deepEqual(validateGateway(HARNESS), []);
  // feature_example.hcl
  assert.deepEqual(
    validateGateway(
      gw(
        {
          dashboard_listen: "0.0.0.0:8080",
          public_url: "http://66.42.120.196:8080",
          log_path: "/opt/clawpatrol/gateway.log",
          state_dir: "/opt/clawpatrol/oauth",
        },
        { wireguard: { endpoint: "0.0.0.0:51820", subnet_cidr: "10.55.0.0/24" } },
      ),
    ),
    [],
  );
  // gateway.example.hcl, with its commented-out sub-blocks enabled.
  assert.deepEqual(
    validateGateway(
      gw(
        {
          dashboard_listen: "127.0.0.1:8080",
          public_url: "https://gw.example.com/",
          state_dir: "/opt/clawpatrol",
          dashboard_config_writes: true,
          dashboard_session_ttl: "24h",
          session_keep: "off",
          actions_keep: "168h",
          resolver: "1.1.1.1",
          telemetry: false,
        },
        {
          wireguard: { subnet_cidr: "10.55.0.0/24", listen_port: 41820, host_loopback_port: 18443, endpoint: "wg.example.com:51820" },
          tailscale: { authkey: "tskey-x", hostname: "clawpatrol-gateway", tags: ["tag:client"], operators: ["alice@example.com", "*@example.com"] },
          genai_telemetry: { include_message_content: false },
          limits: { body_buffer: "1MiB", body_storage: "64KiB" },
        },
      ),
    ),
    [],
  );
  // Tailscale only, no public_url: no WireGuard dial target needed.
  assert.deepEqual(validateGateway(gw({ state_dir: "/x" }, { tailscale: { authkey: "k" } })), []);
  // Single-host loopback WireGuard needs no public_url.
  assert.deepEqual(validateGateway(gw({}, { wireguard: { subnet_cidr: "10.55.0.0/24", endpoint: "127.0.0.1:51820" } })), []);
});

test("error_no_transport: exact wording, no range", () => {
  const ds = validateGateway(gw({ state_dir: "/opt/clawpatrol", public_url: "https://gw.example.test" }));
  assert.deepEqual(lines(ds), [
    'error: No transport enabled — Declare at least one of `wireguard { ... }`, `tailscale { ... }`, `proxy { ... }` or `forward "<name>" { ... }` inside the `gateway { ... }` block. Block presence selects the transport; several may be enabled simultaneously.',
  ]);
  assert.equal(ds[0]!.range, undefined);
});

test("error_wireguard_missing_fields: exact wording, in order, no ranges", () => {
  const ds = validateGateway(gw({ state_dir: "/opt/clawpatrol" }, { wireguard: {} }));
  assert.deepEqual(lines(ds), [
    'error: Missing wireguard.subnet_cidr — The `wireguard { ... }` block requires `subnet_cidr` (e.g. "10.55.0.0/24").',
    'error: WireGuard client dial target not configured — set `public_url` on the gateway block, or set `wireguard.endpoint` to a non-wildcard host:port (e.g. "gw.example.com:51820") — onboarded clients need one of these to know where to dial. For single-host loopback deployments set `wireguard.endpoint = "127.0.0.1:51820"`.',
  ]);
  assert.ok(ds.every((d) => d.range === undefined));
  // A wildcard endpoint host is not a dial target.
  assert.equal(
    validateGateway(gw({}, { wireguard: { subnet_cidr: "10.55.0.0/24", endpoint: "0.0.0.0:51820" } }))[0]?.summary,
    "WireGuard client dial target not configured",
  );
  assert.deepEqual(validateGateway(gw({}, { wireguard: { subnet_cidr: "10.55.0.0/24", endpoint: "gw.example.com:51820" } })), []);
});

test("wireguard field formats", () => {
  const ds = validateGateway(
    gw({ public_url: "https://gw.example.test" }, { wireguard: { subnet_cidr: "10.55.0.0", listen_port: 0, host_loopback_port: 70000, endpoint: "gw.example.com" } }),
  );
  assert.deepEqual(
    ds.map((d) => d.summary),
    ["Invalid wireguard.subnet_cidr", "Invalid wireguard.listen_port", "Invalid wireguard.host_loopback_port", "Invalid wireguard.endpoint"],
  );
  assert.ok(ds.every((d) => d.range !== undefined));
  assert.equal(validateGateway(gw({ public_url: "https://x.test" }, { wireguard: { subnet_cidr: "10.0.0.0/32" } }))[0]?.summary, "Invalid wireguard.subnet_cidr");
});

test("error_invalid_operator: exact wording; each entry shape", () => {
  const ds = validateGateway(
    gw(
      { dashboard_listen: "127.0.0.1:8080", state_dir: "/opt/clawpatrol", public_url: "https://gw.example.test" },
      { tailscale: { authkey: "tskey-test", operators: ["bert"] } },
    ),
  );
  assert.deepEqual(lines(ds), [
    'error: Invalid operators entry — operators[0] = "bert": operator must be "user@domain" (got "bert"). Use "user@domain" or "*@domain".',
  ]);
  assert.equal(ds[0]!.range, undefined);
  assert.equal(operatorEntryError("alice@example.com"), undefined);
  assert.equal(operatorEntryError("*@example.com"), undefined);
  assert.equal(operatorEntryError("foo*@bar"), 'only the leading "*@" wildcard is supported (got "foo*@bar")');
  assert.equal(operatorEntryError("*@"), 'wildcard entry must be "*@<domain>"');
  assert.equal(operatorEntryError("*@a@b"), 'wildcard entry must be exactly "*@<domain>" (got "*@a@b")');
  assert.equal(operatorEntryError("@example.com"), 'operator must be "user@domain" (got "@example.com")');
  assert.equal(operatorEntryError("a@b@c"), 'operator must be "user@domain" (got "a@b@c")');
  assert.equal(operatorEntryError("alice@"), 'operator must be "user@domain" (got "alice@")');
  assert.equal(operatorEntryError(""), "empty entry");
  const two = validateGateway(gw({}, { tailscale: { operators: ["ok@example.com", "foo*@bar"] } }));
  assert.deepEqual(lines(two), [
    'error: Invalid operators entry — operators[1] = "foo*@bar": only the leading "*@" wildcard is supported (got "foo*@bar"). Use "user@domain" or "*@domain".',
  ]);
});

test("missing gateway block", () => {
  assert.deepEqual(lines(validateGateway(undefined)), [
    "error: Missing gateway block — The config must declare a top-level `gateway { ... }` block with operational settings (state_dir, public_url, the wireguard/tailscale transport sub-blocks, etc.).",
  ]);
});

test("gateway scalar checks", () => {
  const base = { wireguard: { subnet_cidr: "10.55.0.0/24", endpoint: "127.0.0.1:51820" } };
  const summaries = (fields: Record<string, DecodedValue>) => validateGateway(gw(fields, base)).map((d) => d.summary);
  assert.deepEqual(summaries({ public_url: "gw.example.test" }), ["Invalid public_url"]);
  assert.deepEqual(summaries({ public_url: "ftp://gw.example.test" }), ["Invalid public_url"]);
  assert.deepEqual(summaries({ dashboard_listen: "8080" }), ["Invalid dashboard_listen"]);
  assert.deepEqual(summaries({ state_dir: "" }), ["Invalid state_dir"]);
  assert.deepEqual(summaries({ log_path: " " }), ["Invalid log_path"]);
  assert.deepEqual(summaries({ resolver: "1.1.1.1:99999" }), ["Invalid resolver"]);
  assert.deepEqual(summaries({ resolver: "10.0.0.2:53" }), []);
  assert.deepEqual(summaries({ resolver: "::1" }), []);
  assert.deepEqual(summaries({ session_keep: "0" }), []);
  assert.deepEqual(summaries({ session_keep: "30 days", actions_keep: "-1h" }), ["Invalid session_keep", "Invalid actions_keep"]);
  const ttl = validateGateway(gw({ dashboard_session_ttl: "1 day" }, base));
  assert.deepEqual(lines(ttl), [
    'error: Invalid dashboard_session_ttl — dashboard_session_ttl = "1 day": time: unknown unit " day" in duration "1 day". Use a time.ParseDuration string like "24h" or "30m".',
  ]);
  assert.equal(validateGateway(gw({ dashboard_session_ttl: "0s" }, base))[0]?.detail, 'dashboard_session_ttl = "0s": must be positive. Use a time.ParseDuration string like "24h" or "30m".');
});

test("limits: sizes parse; buffer smaller than storage warns", () => {
  const l = (v: Record<string, DecodedValue>) => validateLimits(gw({}, { limits: v }));
  assert.deepEqual(l({ body_buffer: "256KiB", body_storage: "64KiB" }), []);
  assert.deepEqual(lines(l({ body_buffer: "1MB" })), [
    'error: Invalid limits.body_buffer — body_buffer = "1MB": size "1MB": unknown unit "MB" (use B, KiB, MiB, or GiB). Use a size string like "256KiB" or "1MiB".',
  ]);
  assert.deepEqual(lines(l({ body_buffer: "1KiB", body_storage: "4KiB" })), [
    "warning: limits.body_buffer smaller than limits.body_storage — body_buffer = 1024 bytes < body_storage = 4096 bytes. The rules engine will see less body than is persisted to storage. This is allowed, but usually the buffer cap is the larger of the two.",
  ]);
  assert.equal(l({ body_buffer: "2KiB" })[0]?.severity, "warning"); // default storage is 4 KiB
});

test("tailscale sub-block extras", () => {
  const ds = validateGateway(gw({}, { tailscale: { tags: ["client"], control_url: "headscale.internal", oauth_client_secret: "s" } }));
  assert.deepEqual(
    ds.map((d) => `${d.severity} ${d.summary}`),
    ["error Invalid tailscale.tags entry", "error Invalid tailscale.control_url", "warning tailscale.oauth_client_secret without oauth_client_id"],
  );
});

test("defaults: reference fields plus the timezone extension", () => {
  assert.deepEqual(
    validateDefaults(singleton({ unknown_host: "passthrough", llm_fail_mode: "closed", llm_cache_ttl: 300, human_timeout: 600, human_on_timeout: "deny", timezone: "Europe/Berlin" })),
    [],
  );
  assert.deepEqual(validateDefaults(undefined), []);
  const bad = validateDefaults(singleton({ llm_cache_ttl: -1, human_timeout: 0, timezone: "Mars/Olympus" }));
  assert.deepEqual(bad.map((d) => d.summary), ["Invalid defaults.llm_cache_ttl", "Invalid defaults.human_timeout", "Invalid defaults.timezone"]);
  assert.equal(
    bad[2]!.detail,
    'timezone = "Mars/Olympus": not an IANA time zone name. Use a name like "Europe/Berlin", "America/New_York" or "UTC".',
  );
  assert.deepEqual(defaultsSchema.fields["unknown_host"]?.enum, ["passthrough", "deny", "inspect"]);
  assert.deepEqual(defaultsSchema.fields["llm_fail_mode"]?.enum, ["open", "closed"]);
  assert.deepEqual(defaultsSchema.fields["human_on_timeout"]?.enum, ["deny", "allow"]);
});

test("plugin blocks", () => {
  const p = (fields: Record<string, DecodedValue>) => validatePlugin(singleton(fields, {}, ["ext"]));
  assert.deepEqual(p({ source: "/opt/plugins/ext" }), []);
  assert.deepEqual(p({ source: "~/plugins/ext", read_paths: ["~/.ssh", "/etc/ssl"] }), []);
  assert.deepEqual(p({ source: "github.com/acme/clawpatrol-ext", version: "~> 1.2", provenance: "require", network: "outbound" }), []);
  assert.deepEqual(
    p({ source: "ext-binary", version: "1.0" }).map((d) => d.summary),
    ['Invalid source on plugin "ext"', 'version set on local plugin "ext"'],
  );
  assert.deepEqual(p({ source: "./ext", read_paths: ["relative/dir"] }).map((d) => d.summary), ['Invalid read_paths entry on plugin "ext"']);
  assert.deepEqual(pluginSchema.labels, ["name"]);
  assert.equal(pluginSchema.multiple, true);
  assert.equal(pluginSchema.fields["source"]?.required, true);
});

test("schema_version gate", () => {
  assert.deepEqual(checkSchemaVersion(1), []);
  assert.deepEqual(checkSchemaVersion(0), []);
  assert.deepEqual(lines(checkSchemaVersion(999)), [
    "error: Config schema_version too new — schema_version = 999, but this clawpatrol understands up to 1. Upgrade clawpatrol to load this config.",
  ]);
  assert.equal(MAX_SCHEMA_VERSION, 1);
});

test("schemas: every field documented, shapes as the reference", () => {
  const walk = (where: string, s: BlockSchema) => {
    assert.ok(s.doc.length > 10, where);
    for (const [n, f] of Object.entries(s.fields)) {
      assert.ok(f.doc.length > 10, `${where}.${n}`);
      if (f.enum && f.default !== undefined) assert.ok(f.enum.includes(String(f.default)), `${where}.${n}`);
    }
    for (const [n, b] of Object.entries(s.blocks ?? {})) walk(`${where}.${n}`, b);
  };
  walk("file", fileSchema);
  assert.deepEqual(Object.keys(gatewaySchema.blocks ?? {}).sort(), ["forward", "genai_telemetry", "limits", "proxy", "tailscale", "wireguard"]);
  assert.deepEqual(Object.keys(gatewaySchema.blocks!["wireguard"]!.fields).sort(), [
    "endpoint",
    "host_loopback_port",
    "interface",
    "listen_port",
    "server_pub",
    "subnet_cidr",
  ]);
  assert.ok(["authkey", "hostname", "tags", "operators", "control_url", "funnel", "oauth_client_id", "oauth_client_secret"].every(
    (f) => f in gatewaySchema.blocks!["tailscale"]!.fields,
  ));
  assert.deepEqual(Object.keys(gatewaySchema.blocks!["limits"]!.fields).sort(), ["body_buffer", "body_storage"]);
  assert.deepEqual(Object.keys(gatewaySchema.blocks!["genai_telemetry"]!.fields), ["include_message_content"]);
  for (const f of ["dashboard_listen", "public_url", "state_dir", "dashboard_session_ttl", "dashboard_config_writes", "log_path", "resolver", "telemetry", "session_keep", "actions_keep", "resolve"]) {
    assert.ok(f in gatewaySchema.fields, f);
  }
  assert.deepEqual(Object.keys(fileSchema.blocks ?? {}).sort(), ["defaults", "gateway", "plugin"]);
});

// ---------------------------------------------------------------------------
// Local transports and the resolve map (extensions)

/** A gateway with the given proxy / forward blocks (forwards labelled by name) and fields. */
function local(
  fields: Record<string, DecodedValue>,
  proxies: Record<string, DecodedValue>[] = [],
  forwards: [string, Record<string, DecodedValue>][] = [],
): DecodedSingleton {
  const blocks: Record<string, DecodedSingleton[]> = {};
  if (proxies.length) blocks["proxy"] = proxies.map((p) => singleton(p));
  if (forwards.length) blocks["forward"] = forwards.map(([name, f]) => singleton(f, {}, [name]));
  return singleton(fields, blocks);
}

test("a proxy or a forward alone is a transport", () => {
  assert.deepEqual(validateGateway(local({}, [{ listen: "127.0.0.1:1080", profile: "default" }])), []);
  assert.deepEqual(validateGateway(local({}, [], [["pg", { listen: "127.0.0.1:15432", to: "db.example.test:5432", profile: "default" }]])), []);
  assert.deepEqual(
    validateGateway(
      local(
        { resolve: { "db.example.test": "127.0.0.1", "V6.example.test": "::1" } },
        [
          { listen: "127.0.0.1:1080", profile: "default", device: "laptop" },
          { listen: "[::1]:1081", profile: "ci" },
          { listen: "localhost:1082", profile: "ci" },
        ],
        [
          ["pg", { listen: "127.0.0.1:15432", to: "db.example.test:5432", profile: "default" }],
          ["ssh", { listen: "127.0.0.2:2222", to: "[2001:db8::1]:22", profile: "default", device: "ssh-fwd" }],
        ],
      ),
    ),
    [],
  );
  assert.equal(proxySchema.multiple, true);
  assert.equal(proxySchema.labels, undefined);
  assert.deepEqual(forwardSchema.labels, ["name"]);
  assert.equal(forwardSchema.multiple, true);
  assert.deepEqual(
    Object.entries(forwardSchema.fields).filter(([, f]) => f.required).map(([n]) => n),
    ["listen", "to", "profile"],
  );
});

test("proxy / forward addresses, names, devices", () => {
  const sums = (g: DecodedSingleton) => validateGateway(g).map((d) => `${d.severity} ${d.summary}`);
  assert.deepEqual(sums(local({}, [{ listen: "1080", profile: "p" }])), ["error Invalid proxy.listen"]);
  assert.deepEqual(sums(local({}, [{ listen: "127.0.0.1:99999", profile: "p" }])), ["error Invalid proxy.listen"]);
  assert.deepEqual(sums(local({}, [], [["a", { listen: "127.0.0.1:1", to: "db.example.test", profile: "p" }]])), ["error Invalid forward.to"]);
  assert.deepEqual(sums(local({}, [], [["a", { listen: "127.0.0.1:1", to: ":5432", profile: "p" }]])), ["error Invalid forward.to"]);
  assert.deepEqual(sums(local({}, [], [["a", { listen: "127.0.0.1:1", to: "::1:5432", profile: "p" }]])), ["error Invalid forward.to"]);
  assert.deepEqual(
    sums(
      local({}, [{ listen: "127.0.0.1:1080", profile: "p" }], [
        ["a", { listen: "127.0.0.1:1080", to: "x.test:1", profile: "p" }],
        ["a", { listen: "127.0.0.1:1081", to: "x.test:1", profile: "p" }],
      ]),
    ),
    ["error Duplicate listen address", 'error Duplicate forward "a"'],
  );
  assert.deepEqual(sums(local({}, [{ listen: "127.0.0.1:8080", profile: "p" }])), ["error Duplicate listen address"]);
  assert.deepEqual(sums(local({}, [{ listen: "127.0.0.1:1080", profile: "p", device: " " }])), ["error Invalid proxy.device"]);
  assert.deepEqual(sums(local({}, [{ listen: "127.0.0.1:1080", profile: "" }])), ["error Invalid proxy.profile"]);
});

test("non-loopback listeners warn: they have no authentication", () => {
  for (const listen of ["0.0.0.0:1080", ":1080", "[::]:1080", "192.168.1.10:1080", "gw.example.test:1080"]) {
    const ds = validateGateway(local({}, [{ listen, profile: "default" }]));
    assert.deepEqual(ds.map((d) => `${d.severity} ${d.summary}`), ["warning proxy listens beyond loopback"], listen);
    assert.match(ds[0]!.detail ?? "", /no authentication/);
  }
  const f = validateGateway(local({}, [], [["pg", { listen: "0.0.0.0:15432", to: "db:5432", profile: "default" }]]));
  assert.deepEqual(lines(f), [
    'warning: forward listens beyond loopback — forward "pg": listen = "0.0.0.0:15432". Local forward listeners have no authentication: anyone who can reach the port acts with profile "default"\'s credentials. Prefer "127.0.0.1:<port>", or restrict the port with a firewall.',
  ]);
  assert.notEqual(f[0]!.range, undefined);
});

test("resolve map: host names to IP literals", () => {
  const r = (m: Record<string, string>) => lines(validateGateway(local({ resolve: m }, [{ listen: "127.0.0.1:1080", profile: "p" }])));
  assert.deepEqual(r({ "svc.test": "127.0.0.1", "a.b.c": "2001:db8::1" }), []);
  assert.deepEqual(r({ "svc.test": "localhost" }), [
    'error: Invalid resolve entry — resolve["svc.test"] = "localhost": not an IP address. Use an IPv4 or IPv6 literal, e.g. "127.0.0.1" or "::1".',
  ]);
  assert.deepEqual(r({ "svc.test": "[::1]" }).length, 1);
  assert.deepEqual(r({ "*.svc.test": "127.0.0.1" }).length, 1);
  assert.deepEqual(r({ "svc.test:80": "127.0.0.1" }).length, 1);
  assert.deepEqual(r({ "10.0.0.1": "127.0.0.1" }), [
    'error: Invalid resolve entry — resolve["10.0.0.1"]: IP literals are dialed as they are; map host names only.',
  ]);
  assert.deepEqual(r({ "Svc.Test": "127.0.0.1", "svc.test": "127.0.0.2" }), [
    'error: Duplicate resolve entry — resolve["svc.test"]: the same name as "Svc.Test" (names match case-insensitively).',
  ]);
});

test("transport profiles must be declared", () => {
  const g = local({}, [{ listen: "127.0.0.1:1080", profile: "default" }, { listen: "127.0.0.1:1081", profile: "ci" }], [
    ["pg", { listen: "127.0.0.1:15432", to: "db:5432", profile: "nope" }],
  ]);
  assert.deepEqual(validateTransportProfiles(g, ["default", "ci"]).map((d) => d.detail), [
    'forward "pg": profile = "nope" names no declared profile (declared: "ci", "default").',
  ]);
  assert.deepEqual(lines(validateTransportProfiles(g, ["default"])), [
    'error: Unknown profile on proxy — proxy #2: profile = "ci" names no declared profile (declared: "default").',
    'error: Unknown profile on forward — forward "pg": profile = "nope" names no declared profile (declared: "default").',
  ]);
  assert.deepEqual(validateTransportProfiles(undefined, []), []);
  assert.deepEqual(validateTransportProfiles(HARNESS, []), []);
});

test("through the loader: proxy / forward configs load; required fields are enforced", () => {
  const body = `
endpoint "https" "gh" { hosts = ["api.github.com"] }
credential "bearer_token" "gh" { endpoint = https.gh }
profile "default" { credentials = [bearer_token.gh] }
`;
  const ok = loadText(`
gateway {
  state_dir = "/tmp/x"
  resolve   = { "db.example.test" = "127.0.0.1" }
  proxy {
    listen  = "127.0.0.1:1080"
    profile = "default"
  }
  forward "pg" {
    listen  = "127.0.0.1:15432"
    to      = "db.example.test:5432"
    profile = "default"
  }
}
${body}`);
  assert.deepEqual(ok.diagnostics.map((d) => d.summary), []);
  assert.ok(ok.policy);
  const bad = errorsOf(`
gateway {
  proxy {
    listen = "0.0.0.0:1080"
  }
  forward {
    listen  = "127.0.0.1:15432"
    profile = "default"
  }
}
${body}`);
  assert.ok(bad.some((l) => /Missing required argument — The argument "profile" is required/.test(l)), bad.join("\n"));
  assert.ok(bad.some((l) => /Missing name for block/.test(l)), bad.join("\n"));
  const warn = loadText(`
gateway {
  proxy {
    listen  = "0.0.0.0:1080"
    profile = "default"
  }
}
${body}`).diagnostics.find((d) => d.summary === "proxy listens beyond loopback");
  assert.equal(warn?.severity, "warning");
  assert.equal(warn?.range?.start.line, 5);
});
