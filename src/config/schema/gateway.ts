/**
 * Schemas of the operational top-level blocks — `gateway {}` (with its
 * `wireguard`, `tailscale`, `limits`, `genai_telemetry` sub-blocks),
 * `defaults {}` and `plugin "<name>" {}`. Checks beyond the field tables
 * live in ./checks.ts.
 */
import type { BlockSchema, FieldSpec, NestedBlockSchema } from "../../types/schema.js";

/** Newest config grammar this implementation understands (`schema_version`). */
export const MAX_SCHEMA_VERSION = 1;

// ---------------------------------------------------------------------------
// gateway { ... }

/** `gateway { wireguard { ... } }`: the built-in userspace WireGuard server. */
export const wireguardSchema: NestedBlockSchema = {
  doc: "Enables the embedded userspace WireGuard server that onboarded devices connect to. Block presence enables it.",
  fields: {
    subnet_cidr: {
      type: "string",
      doc:
        'Private IPv4 subnet device addresses are handed out from ("10.55.0.0/24"); the gateway takes the first host address. ' +
        'Required — a missing value is reported as "Missing wireguard.subnet_cidr".',
    },
    listen_port: { type: "int", default: 51820, doc: "UDP port the gateway listens on for WireGuard." },
    host_loopback_port: {
      type: "int",
      default: 8443,
      doc: "TCP port on 127.0.0.1 where clients on the gateway's own host reach it; change it to run two gateways on one host.",
    },
    endpoint: {
      type: "string",
      doc:
        'The "host:port" written into client configs as the WireGuard peer endpoint. Default: the host of `public_url` ' +
        'and `listen_port`. Set it when WireGuard is reached under another name, or to "127.0.0.1:51820" for single-host setups.',
    },
    interface: { type: "string", doc: "WireGuard interface name. Irrelevant in userspace mode; leave unset." },
    server_pub: {
      type: "string",
      doc: "WireGuard public key advertised to clients. Normally derived from the gateway's state; set only when bootstrapping from an external key.",
    },
  },
};

/** `gateway { tailscale { ... } }`: the embedded Tailscale node. */
export const gatewayTailscaleSchema: NestedBlockSchema = {
  doc: "Enables an embedded Tailscale node: devices on the tailnet reach the gateway through it. Block presence enables it; it may coexist with `wireguard`.",
  fields: {
    authkey: {
      type: "string",
      secretTemplate: true,
      doc: "Auth key for the node. Falls back to $TS_AUTHKEY; `{{secret:NAME}}` keeps it out of the file.",
    },
    hostname: { type: "string", default: "clawpatrol-gateway", doc: "Node name requested on the tailnet." },
    control_url: { type: "string", doc: "Control server URL (e.g. Headscale). Unset: Tailscale's hosted control plane." },
    tags: { type: "list<string>", doc: 'ACL tags put on auth keys minted for onboarded devices ("tag:client").' },
    operators: {
      type: "list<string>",
      doc:
        'Tailnet logins allowed into the dashboard without the root password: "user@domain" or "*@domain". Tagged ' +
        "devices never match a wildcard.",
    },
    funnel: {
      type: "bool",
      default: false,
      doc: "Expose the join, webhook and CA paths on the internet through Tailscale Funnel (:443). Derives `public_url` when unset.",
    },
    oauth_client_id: { type: "string", doc: "OAuth client id used to mint per-device auth keys when devices are approved." },
    oauth_client_secret: {
      type: "string",
      secretTemplate: true,
      doc: "OAuth client secret paired with `oauth_client_id`; `{{secret:NAME}}` keeps it out of the file.",
    },
  },
};

/**
 * Loopback advice shared by the local transports' docs: they carry no
 * authentication, so whoever reaches the port acts with the profile's
 * credentials.
 */
const NO_AUTH_NOTE =
  "The listener has no authentication: anyone who can connect acts as this device with this profile's credentials, " +
  "so keep it on a loopback address (a non-loopback `listen` is warned about).";

/** `gateway { proxy { ... } }`: the local SOCKS5 / HTTP CONNECT front door. */
export const proxySchema: NestedBlockSchema = {
  doc:
    "A local proxy port serving both SOCKS5 (no-auth, CONNECT, remote DNS) and HTTP `CONNECT`; every connection " +
    "becomes a flow to the destination the client names, attributed to `profile`. Block presence enables it; repeat the " +
    "block (no label) for several ports, e.g. one per profile. " +
    NO_AUTH_NOTE,
  multiple: true,
  fields: {
    listen: {
      type: "string",
      required: true,
      doc: 'Address the proxy listens on, "host:port" ("127.0.0.1:1080").',
    },
    profile: {
      type: "string",
      required: true,
      doc: "The profile every connection through this port is attributed to; must name a declared `profile`.",
    },
    device: {
      type: "string",
      doc: 'Device name recorded for these connections (audit log, `agent.device` in rules). Default: "proxy:<listen>".',
    },
  },
};

/** `gateway { forward "<name>" { ... } }`: a local port mapped to one upstream. */
export const forwardSchema: NestedBlockSchema = {
  doc:
    "A local port whose every connection is a flow to the fixed destination `to`, attributed to `profile` — how " +
    "`psql`, `ssh` or any client without proxy support reaches an upstream through the gateway on one host. The label " +
    "names the forward (unique). " +
    NO_AUTH_NOTE,
  labels: ["name"],
  multiple: true,
  fields: {
    listen: {
      type: "string",
      required: true,
      doc: 'Address the forward listens on, "host:port" ("127.0.0.1:15432").',
    },
    to: {
      type: "string",
      required: true,
      doc:
        'The destination every connection is a flow to, "host:port" ("db.example.test:5432"): what the agent would have ' +
        "dialed. Endpoints claim it exactly as if the agent had dialed it; `resolve` and DNS turn it into an address.",
    },
    profile: {
      type: "string",
      required: true,
      doc: "The profile every connection through this port is attributed to; must name a declared `profile`.",
    },
    device: {
      type: "string",
      doc: 'Device name recorded for these connections (audit log, `agent.device` in rules). Default: "forward:<name>".',
    },
  },
};

/** `gateway { limits { ... } }`: body-size limits. */
export const limitsSchema: NestedBlockSchema = {
  doc: 'Body-size limits, as sizes like "256KiB" or "1MiB" (binary units B, KiB, MiB, GiB; a bare number is bytes).',
  fields: {
    body_buffer: {
      type: "string",
      default: "1MiB",
      doc:
        "The most request/response body buffered for rules (`http.body`, `http.body_json`, `ssh.stdin`). A rule that " +
        "needs bytes beyond it sees the field as unknown and fails closed.",
    },
    body_storage: {
      type: "string",
      default: "4KiB",
      doc: "The most body kept per action in the audit log.",
    },
  },
};

/** `gateway { genai_telemetry { ... } }`: OpenTelemetry GenAI spans. */
export const genaiTelemetrySchema: NestedBlockSchema = {
  doc:
    "Export an OpenTelemetry GenAI span (gen_ai.*: provider, model, token usage, finish reason, tool definitions) per " +
    "intercepted LLM call, to the OTLP exporter configured by OTEL_EXPORTER_OTLP_ENDPOINT. Block presence enables it.",
  fields: {
    include_message_content: {
      type: "bool",
      default: false,
      doc: "Also attach prompts, completions and full tool schemas. Off by default: content is large and sensitive.",
    },
  },
};

/** Fields of `gateway { ... }` itself. */
const gatewayFields: Record<string, FieldSpec> = {
  dashboard_listen: {
    type: "string",
    default: "127.0.0.1:8080",
    doc: 'Address of the dashboard and management API ("host:port"). Also served inside the WireGuard/Tailscale network on the same port.',
  },
  public_url: {
    type: "string",
    doc:
      "The gateway's externally reachable http(s) URL: join links, OAuth redirects, async-approval status links, and " +
      "(unless `wireguard.endpoint` says otherwise) the host WireGuard clients dial.",
  },
  state_dir: {
    type: "string",
    default: "~/.clawpatrol",
    doc: "Directory for the state database (devices, secrets, audit log) and everything else the gateway persists.",
  },
  dashboard_session_ttl: {
    type: "string",
    default: "24h",
    doc: 'How long a dashboard login lasts, as a duration ("24h", "30m"). Changing the root password ends all sessions.',
  },
  dashboard_config_writes: {
    type: "bool",
    default: false,
    doc:
      "Let dashboard users append generated blocks (e.g. deny rules) to this file after validation. Gives every dashboard " +
      "login control over the policy — including `local_command` tunnels — so treat the password as root when on.",
  },
  resolver: { type: "string", doc: 'DNS server for upstream lookups ("1.1.1.1" or "host:53"). Unset: the system resolver.' },
  log_path: {
    type: "string",
    doc: "Also append the gateway's log lines to this file (created 0600, never rotated). Not the audit log: allowed requests are recorded in the database.",
  },
  telemetry: {
    type: "bool",
    default: true,
    doc: "Anonymous update check / usage ping. `false` (or CLAWPATROL_TELEMETRY=0, DO_NOT_TRACK=1) turns it off.",
  },
  session_keep: {
    type: "string",
    default: "720h",
    doc: 'Delete agent sessions idle longer than this duration; "0" or "off" keeps them forever.',
  },
  actions_keep: {
    type: "string",
    default: "720h",
    doc: 'Delete action-log rows older than this duration; "0" or "off" keeps them. An endpoint\'s `retention` overrides it.',
  },  resolve: {
    type: "map<string,string>",
    doc:
      'Static upstream resolution, host name → IP literal ({ "db.example.test" = "127.0.0.1" }): consulted before DNS ' +
      "whenever the gateway dials an upstream (relays, intercepted endpoints), like curl's --resolve. For split-horizon " +
      "setups and tests. Names match exactly, case-insensitively; no wildcards.",
  },
};

/** `gateway { ... }`: operational settings, with the transport sub-blocks. */
export const gatewaySchema: NestedBlockSchema = {
  doc:
    "Operational settings. Required, exactly once. At least one transport sub-block (`wireguard`, `tailscale`, " +
    "`proxy`, `forward`) must be present. Changes need a restart; every policy block reloads live.",
  fields: gatewayFields,
  blocks: {
    wireguard: wireguardSchema,
    tailscale: gatewayTailscaleSchema,
    proxy: proxySchema,
    forward: forwardSchema,
    limits: limitsSchema,
    genai_telemetry: genaiTelemetrySchema,
  },
};

// ---------------------------------------------------------------------------
// defaults { ... }

/** `defaults { ... }`: policy fallbacks; every field has a built-in default. */
export const defaultsSchema: NestedBlockSchema = {
  doc: "Policy-wide fallbacks. Optional; each field has a built-in default.",
  fields: {
    unknown_host: {
      type: "string",
      enum: ["passthrough", "deny", "inspect"],
      default: "passthrough",
      doc:
        'Traffic to hosts no endpoint claims: "passthrough" relays it untouched, "deny" refuses it, "inspect" decrypts ' +
        "it as the declared `https.unknown` endpoint so its rules apply.",
    },
    llm_fail_mode: {
      type: "string",
      enum: ["open", "closed"],
      default: "closed",
      doc:
        'What an `llm_approver` stage does when the model is unavailable (timeout, 429/5xx, unreadable answer): "closed" ' +
        'denies, "open" allows and records why. Misconfiguration always denies. (Parsed but ignored by the reference; implemented here.)',
    },
    llm_cache_ttl: {
      type: "int",
      default: 0,
      doc:
        "Seconds an `llm_approver` decision is reused for an identical request; 0 disables the cache. (Parsed but " +
        "ignored by the reference; implemented here.)",
    },
    human_timeout: {
      type: "int",
      default: 600,
      doc: "Seconds a `human_approver` waits for a decision unless it sets its own `timeout`.",
    },
    human_on_timeout: {
      type: "string",
      enum: ["deny", "allow"],
      default: "deny",
      doc: "Outcome when a human approval times out. (Parsed but ignored by the reference, which always denies; implemented here.)",
    },
    timezone: {
      type: "string",
      default: "UTC",
      doc:
        'Extension: the IANA time zone ("Europe/Berlin") in which time-of-day conditions in rules are evaluated.',
    },
  },
};

// ---------------------------------------------------------------------------
// plugin "<name>" { ... }

/** `plugin "<name>" { ... }`: an external plugin binary supplying more types. */
export const pluginSchema: NestedBlockSchema = {
  doc:
    "An external plugin process whose declared endpoint/credential/tunnel types become usable in this file. The label " +
    "is informational; the plugin's own manifest names its types.",
  labels: ["name"],
  multiple: true,
  fields: {
    source: {
      type: "string",
      required: true,
      doc: 'Where the binary comes from: a local path ("/opt/p", "./p", "~/p") or "github.com/<owner>/<repo>" (fetched from its releases, pinned in clawpatrol.lock.hcl).',
    },
    version: { type: "string", doc: 'Version constraint for a GitHub source ("~> 1.2", ">= 1.0, < 2.0"). Unset: newest stable release.' },
    provenance: {
      type: "string",
      enum: ["warn", "require", "off"],
      default: "warn",
      doc: 'Build-provenance attestation check for a GitHub source: "warn" (verify when present), "require" (refuse without), "off".',
    },
    network: {
      type: "string",
      enum: ["none", "outbound"],
      default: "none",
      doc: '"none" confines the plugin to the gateway\'s brokered dials; "outbound" lets it open its own connections.',
    },
    sandbox: {
      type: "string",
      enum: ["enforce", "off"],
      default: "enforce",
      doc: '"enforce" runs the plugin in an OS sandbox and fails the load if none is available; "off" runs it with the gateway user\'s rights.',
    },
    read_paths: {
      type: "list<string>",
      doc: 'Extra host paths the sandboxed plugin may read (absolute or "~/"); paths overlapping state_dir are refused.',
    },
  },
};

// ---------------------------------------------------------------------------
// The file itself

/**
 * The top level of a config file: `schema_version` plus the operational
 * blocks. The plugin-dispatched kinds (`endpoint`, `credential`,
 * `approver`, `tunnel`) come from ../../types/registry.ts; `rule` and
 * `profile` have fixed shapes owned by the loader.
 */
export const fileSchema: BlockSchema = {
  doc: "A gateway config file (or one file of a config directory).",
  fields: {
    schema_version: {
      type: "int",
      doc: `The config grammar the file is written for. This implementation understands up to ${MAX_SCHEMA_VERSION}; omitting it loads the file as the unversioned grammar with a warning.`,
    },
  },
  blocks: {
    gateway: gatewaySchema,
    defaults: defaultsSchema,
    plugin: pluginSchema,
  },
};

/** Upper-case names for the loader, which treats the three as constants. */
export const GATEWAY_SCHEMA = gatewaySchema;
/** See {@link GATEWAY_SCHEMA}. */
export const DEFAULTS_SCHEMA = defaultsSchema;
/** See {@link GATEWAY_SCHEMA}. */
export const PLUGIN_SCHEMA = pluginSchema;
