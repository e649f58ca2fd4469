/**
 * Checks on the operational blocks (`gateway {}` and its sub-blocks,
 * `defaults {}`, `plugin {}`) that their field tables (./gateway.ts) cannot
 * express.
 *
 * They are pure functions over decoded singletons so the loader can run them
 * after decoding and tests can feed them hand-built input. Where the
 * reference has a diagnostic for the same problem, summary and detail are
 * worded exactly like it (users compare our output with theirs; the
 * compatibility suite checks the summaries).
 */
import type { Diagnostic } from "../diagnostics.js";
import { error, warning } from "../diagnostics.js";
import type { DecodedSingleton } from "../../types/schema.js";
import { isIP } from "node:net";
import { getMap, getNumber, getString, getStrings, rangeOf, type DecodedBody } from "../../types/common.js";
import {
  checkHostName,
  checkHttpUrl,
  checkListenAddress,
  checkPort,
  goQuote,
  isPort,
  isTimeZone,
  parseDuration,
  parseIpv4Cidr,
  parseSize,
  splitHostPort,
} from "../../types/formats.js";

import { MAX_SCHEMA_VERSION } from "./gateway.js";

// ---------------------------------------------------------------------------
// Checks

/** The single sub-block of a type, when present. */
function sub(b: DecodedSingleton, type: string): DecodedSingleton | undefined {
  return b.blocks[type]?.[0];
}

/**
 * Rejects a `schema_version` newer than {@link MAX_SCHEMA_VERSION}. Meant
 * to run on a lenient pre-pass, before strict decoding, so a config from a
 * newer release fails with this one message instead of a wall of unknown
 * fields.
 */
export function checkSchemaVersion(version: number): Diagnostic[] {
  if (version > MAX_SCHEMA_VERSION) {
    return [
      error(
        "Config schema_version too new",
        `schema_version = ${version}, but this clawpatrol understands up to ${MAX_SCHEMA_VERSION}. Upgrade clawpatrol to load this config.`,
      ),
    ];
  }
  if (version < 0 || !Number.isInteger(version)) {
    return [error("Invalid schema_version", `\`schema_version\` must be a whole number from 0 to ${MAX_SCHEMA_VERSION}, got ${version}.`)];
  }
  return [];
}

/**
 * Requires at least one transport. The summary is the reference's (the
 * compatibility suite compares it); the detail also names the local
 * transports, which the reference does not have.
 */
export function validateTransports(gateway: DecodedSingleton): Diagnostic[] {
  if (["wireguard", "tailscale", "proxy", "forward"].some((t) => sub(gateway, t))) return [];
  return [
    error(
      "No transport enabled",
      'Declare at least one of `wireguard { ... }`, `tailscale { ... }`, `proxy { ... }` or `forward "<name>" { ... }` inside the `gateway { ... }` block. Block presence selects the transport; several may be enabled simultaneously.',
    ),
  ];
}

/** Host part of a `host:port` endpoint, or undefined when it does not split. */
function endpointHost(endpoint: string): string | undefined {
  const split = splitHostPort(endpoint);
  if (!split.ok || split.value.port === undefined) return undefined;
  return split.value.host;
}

/**
 * Checks `wireguard {}`: the subnet is set and a valid IPv4 CIDR, ports
 * are ports, and clients have somewhere to dial — `public_url`, a
 * non-wildcard `endpoint`, or a loopback `endpoint` for single-host setups.
 */
export function validateWireguard(gateway: DecodedSingleton): Diagnostic[] {
  const wg = sub(gateway, "wireguard");
  if (!wg) return [];
  const out: Diagnostic[] = [];
  const subnet = getString(wg, "subnet_cidr");
  if (subnet === undefined || subnet === "") {
    out.push(error("Missing wireguard.subnet_cidr", 'The `wireguard { ... }` block requires `subnet_cidr` (e.g. "10.55.0.0/24").'));
  } else {
    const cidr = parseIpv4Cidr(subnet);
    if (!cidr.ok) {
      out.push(error("Invalid wireguard.subnet_cidr", `subnet_cidr = ${goQuote(subnet)}: ${cidr.error}.`, rangeOf(wg, "subnet_cidr")));
    } else if (cidr.value.prefix > 30) {
      out.push(
        error(
          "Invalid wireguard.subnet_cidr",
          `subnet_cidr = ${goQuote(subnet)}: a /${cidr.value.prefix} leaves no address for clients; use /30 or wider (e.g. /24).`,
          rangeOf(wg, "subnet_cidr"),
        ),
      );
    }
  }
  for (const name of ["listen_port", "host_loopback_port"]) {
    const port = getNumber(wg, name);
    if (port !== undefined && !isPort(port)) {
      out.push(error(`Invalid wireguard.${name}`, `${name} = ${port}: must be a port number from 1 to 65535.`, rangeOf(wg, name)));
    }
  }
  const endpoint = getString(wg, "endpoint");
  if (endpoint !== undefined && endpoint !== "") {
    const err = checkListenAddress(endpoint);
    if (err) out.push(error("Invalid wireguard.endpoint", `endpoint = ${goQuote(endpoint)}: ${err}. Use "host:port".`, rangeOf(wg, "endpoint")));
  }
  const publicUrl = (getString(gateway, "public_url") ?? "").trim().replace(/\/+$/, "");
  const host = endpoint ? endpointHost(endpoint) : undefined;
  const hasDialTarget = publicUrl !== "" || (host !== undefined && host !== "" && host !== "0.0.0.0" && host !== "::");
  const loopbackOnly = host === "127.0.0.1" || host === "::1" || host === "localhost";
  if (!hasDialTarget && !loopbackOnly) {
    out.push(
      error(
        "WireGuard client dial target not configured",
        'set `public_url` on the gateway block, or set `wireguard.endpoint` to a non-wildcard host:port (e.g. "gw.example.com:51820") — onboarded clients need one of these to know where to dial. For single-host loopback deployments set `wireguard.endpoint = "127.0.0.1:51820"`.',
      ),
    );
  }
  return out;
}

/**
 * Why a dashboard operator entry is malformed, in the reference's words,
 * or undefined when it is "user@domain" or "*@domain".
 */
export function operatorEntryError(entry: string): string | undefined {
  if (entry === "") return "empty entry";
  if (entry.startsWith("*@")) {
    const domain = entry.slice(2);
    if (domain === "") return 'wildcard entry must be "*@<domain>"';
    if (/[@*]/.test(domain)) return `wildcard entry must be exactly "*@<domain>" (got ${goQuote(entry)})`;
    return undefined;
  }
  if (entry.includes("*")) return `only the leading "*@" wildcard is supported (got ${goQuote(entry)})`;
  const at = entry.indexOf("@");
  if (at <= 0 || at !== entry.lastIndexOf("@") || entry.slice(at + 1) === "") {
    return `operator must be "user@domain" (got ${goQuote(entry)})`;
  }
  return undefined;
}

/** Checks `tailscale {}`: operator entries, tags, control URL. */
export function validateGatewayTailscale(gateway: DecodedSingleton): Diagnostic[] {
  const ts = sub(gateway, "tailscale");
  if (!ts) return [];
  const out: Diagnostic[] = [];
  (getStrings(ts, "operators") ?? []).forEach((entry, i) => {
    const err = operatorEntryError(entry);
    if (err) {
      out.push(error("Invalid operators entry", `operators[${i}] = ${goQuote(entry)}: ${err}. Use "user@domain" or "*@domain".`));
    }
  });
  for (const tag of getStrings(ts, "tags") ?? []) {
    if (!/^tag:[A-Za-z0-9][A-Za-z0-9-]*$/.test(tag)) {
      out.push(error("Invalid tailscale.tags entry", `${goQuote(tag)}: tags look like "tag:name".`, rangeOf(ts, "tags")));
    }
  }
  const url = getString(ts, "control_url");
  if (url !== undefined && url !== "") {
    const err = checkHttpUrl(url);
    if (err) out.push(error("Invalid tailscale.control_url", `control_url = ${goQuote(url)}: ${err}.`, rangeOf(ts, "control_url")));
  }
  if (getString(ts, "oauth_client_secret") && !getString(ts, "oauth_client_id")) {
    out.push(
      warning(
        "tailscale.oauth_client_secret without oauth_client_id",
        "Device auth keys are minted with the OAuth client id and secret together; set `oauth_client_id` too.",
        rangeOf(ts, "oauth_client_secret"),
      ),
    );
  }
  return out;
}

/** Checks `limits {}`: both sizes parse; warns when rules would see less than is stored. */
export function validateLimits(gateway: DecodedSingleton): Diagnostic[] {
  const limits = sub(gateway, "limits");
  if (!limits) return [];
  const out: Diagnostic[] = [];
  const read = (field: string, example: string, fallback: number): number | undefined => {
    const v = getString(limits, field);
    if (v === undefined || v.trim() === "") return fallback;
    const p = parseSize(v);
    if (p.ok) return p.value;
    out.push(error(`Invalid limits.${field}`, `${field} = ${goQuote(v)}: ${p.error}. Use a size string like ${example}.`, rangeOf(limits, field)));
    return undefined;
  };
  const buffer = read("body_buffer", '"256KiB" or "1MiB"', 1024 * 1024);
  const storage = read("body_storage", '"64KiB" or "256KiB"', 4096);
  if (buffer !== undefined && storage !== undefined && buffer < storage) {
    out.push(
      warning(
        "limits.body_buffer smaller than limits.body_storage",
        `body_buffer = ${buffer} bytes < body_storage = ${storage} bytes. The rules engine will see less body than is persisted to storage. This is allowed, but usually the buffer cap is the larger of the two.`,
        rangeOf(limits, "body_buffer"),
      ),
    );
  }
  return out;
}

/** A retention duration: empty, "0", "off", or a non-negative duration. */
function validateRetention(b: DecodedBody, name: string): Diagnostic[] {
  const raw = getString(b, name);
  const v = raw?.trim();
  if (raw === undefined || v === "" || v === "0" || v === "off") return [];
  const p = parseDuration(v!);
  if (!p.ok) {
    return [
      error(
        `Invalid ${name}`,
        `${name} = ${goQuote(raw)}: ${p.error}. Use a time.ParseDuration string like "720h" or "30m", or "0" / "off" to disable.`,
        rangeOf(b, name),
      ),
    ];
  }
  if (p.value < 0) {
    return [
      error(
        `Invalid ${name}`,
        `${name} = ${goQuote(raw)}: negative durations are not allowed. Use a positive duration like "720h", or "0" / "off" to disable.`,
        rangeOf(b, name),
      ),
    ];
  }
  return [];
}

/** Why a `resolver` value ("1.1.1.1", "10.0.0.2:53", "[::1]:53", "dns.internal") is unusable, if it is. */
function resolverError(resolver: string): string | undefined {
  const split = splitHostPort(resolver);
  if (!split.ok) return split.error;
  const { host, port } = split.value;
  if (port !== undefined) {
    const perr = checkPort(port);
    if (perr) return perr;
  }
  if (host === "") return "missing host";
  return isIP(host) !== 0 ? undefined : checkHostName(host);
}

/** Checks the scalar fields of `gateway {}` (URLs, addresses, durations, paths). */
export function validateGatewaySettings(gateway: DecodedSingleton): Diagnostic[] {
  const out: Diagnostic[] = [];
  const publicUrl = getString(gateway, "public_url");
  if (publicUrl !== undefined && publicUrl.trim() !== "") {
    const err = checkHttpUrl(publicUrl.trim().replace(/\/+$/, ""));
    if (err) {
      out.push(error("Invalid public_url", `public_url = ${goQuote(publicUrl)}: ${err}. Use the gateway's base URL, e.g. "https://gw.example.com".`, rangeOf(gateway, "public_url")));
    }
  }
  const listen = getString(gateway, "dashboard_listen");
  if (listen !== undefined) {
    const err = checkListenAddress(listen);
    if (err) out.push(error("Invalid dashboard_listen", `dashboard_listen = ${goQuote(listen)}: ${err}. Use "host:port", e.g. "127.0.0.1:8080".`, rangeOf(gateway, "dashboard_listen")));
  }
  for (const name of ["state_dir", "log_path"]) {
    const v = getString(gateway, name);
    if (v !== undefined && v.trim() === "") {
      out.push(error(`Invalid ${name}`, `${name} is empty; set a path or remove the attribute.`, rangeOf(gateway, name)));
    }
  }
  const ttl = getString(gateway, "dashboard_session_ttl");
  if (ttl !== undefined && ttl !== "") {
    const p = parseDuration(ttl);
    const err = !p.ok ? p.error : p.value <= 0 ? "must be positive" : undefined;
    if (err) {
      out.push(
        error(
          "Invalid dashboard_session_ttl",
          `dashboard_session_ttl = ${goQuote(ttl)}: ${err}. Use a time.ParseDuration string like "24h" or "30m".`,
          rangeOf(gateway, "dashboard_session_ttl"),
        ),
      );
    }
  }
  out.push(...validateRetention(gateway, "session_keep"));
  out.push(...validateRetention(gateway, "actions_keep"));
  const resolver = getString(gateway, "resolver");
  if (resolver !== undefined) {
    const err = resolverError(resolver);
    if (err) {
      out.push(error("Invalid resolver", `resolver = ${goQuote(resolver)}: ${err}. Use an address like "1.1.1.1" or "10.0.0.2:53".`, rangeOf(gateway, "resolver")));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Local transports (`proxy`, `forward`) and the `resolve` map — extensions.

/** Whether a listen host only accepts connections from this machine. */
export function isLoopbackListenHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h === "::1") return true;
  return isIP(h) === 4 && h.startsWith("127.");
}

/** How a local-transport block is named in diagnostics: `proxy` (#n) or `forward "name"`. */
function transportLabel(kind: "proxy" | "forward", b: DecodedSingleton, index: number, count: number): string {
  if (kind === "forward") return `forward ${goQuote(b.labels[0] ?? "")}`;
  return count > 1 ? `proxy #${index + 1}` : "proxy";
}

/**
 * Checks the `proxy {}` and `forward "<name>" {}` blocks: listen and `to`
 * addresses, unique forward names and listen addresses, non-empty device
 * names, and a warning for listeners reachable from other machines (they
 * carry no authentication, so anyone who reaches them acts with the
 * profile's credentials). Whether `profile` names a declared profile needs
 * the profiles: see {@link validateTransportProfiles}.
 */
export function validateLocalTransports(gateway: DecodedSingleton): Diagnostic[] {
  const out: Diagnostic[] = [];
  const listens = new Map<string, string>();
  const dashboard = getString(gateway, "dashboard_listen") ?? "127.0.0.1:8080";
  listens.set(dashboard, "dashboard_listen");
  const names = new Set<string>();
  for (const kind of ["proxy", "forward"] as const) {
    const blocks = gateway.blocks[kind] ?? [];
    blocks.forEach((b, i) => {
      const label = transportLabel(kind, b, i, blocks.length);
      if (kind === "forward") {
        const name = b.labels[0] ?? "";
        if (names.has(name)) {
          out.push(error(`Duplicate forward ${goQuote(name)}`, `Forward names must be unique; ${goQuote(name)} is declared more than once.`, b.defRange));
        }
        names.add(name);
      }
      const listen = getString(b, "listen");
      if (listen !== undefined) {
        const err = checkListenAddress(listen);
        if (err) {
          out.push(error(`Invalid ${kind}.listen`, `${label}: listen = ${goQuote(listen)}: ${err}. Use "host:port", e.g. "127.0.0.1:${kind === "proxy" ? 1080 : 15432}".`, rangeOf(b, "listen")));
        } else {
          const prev = listens.get(listen);
          if (prev) {
            out.push(error(`Duplicate listen address`, `${label}: listen = ${goQuote(listen)} is already used by ${prev}.`, rangeOf(b, "listen")));
          } else {
            listens.set(listen, label);
          }
          const split = splitHostPort(listen);
          const host = split.ok ? split.value.host : "";
          if (!isLoopbackListenHost(host)) {
            out.push(
              warning(
                `${kind} listens beyond loopback`,
                `${label}: listen = ${goQuote(listen)}. Local ${kind} listeners have no authentication: anyone who can reach the port acts with profile ${goQuote(getString(b, "profile") ?? "")}'s credentials. Prefer "127.0.0.1:<port>", or restrict the port with a firewall.`,
                rangeOf(b, "listen"),
              ),
            );
          }
        }
      }
      const device = getString(b, "device");
      if (device !== undefined && (device.trim() === "" || /[\x00-\x1f\x7f]/.test(device))) {
        out.push(error(`Invalid ${kind}.device`, `${label}: device = ${goQuote(device)}: must be a non-empty name without control characters.`, rangeOf(b, "device")));
      }
      const profile = getString(b, "profile");
      if (profile !== undefined && profile.trim() === "") {
        out.push(error(`Invalid ${kind}.profile`, `${label}: profile is empty; name a declared profile.`, rangeOf(b, "profile")));
      }
      if (kind === "forward") {
        const to = getString(b, "to");
        const err = to === undefined ? undefined : forwardTargetError(to);
        if (err) {
          out.push(error("Invalid forward.to", `${label}: to = ${goQuote(to!)}: ${err}. Use "host:port", e.g. "db.example.test:5432".`, rangeOf(b, "to")));
        }
      }
    });
  }
  return out;
}

/** Why a forward's `to` is not a dialable `host:port`, if it is not. */
export function forwardTargetError(to: string): string | undefined {
  const err = checkListenAddress(to);
  if (err) return err;
  const split = splitHostPort(to);
  if (split.ok && split.value.host === "") return "missing host";
  return undefined;
}

/**
 * Checks `resolve = { "<host name>" = "<IP>" }`: keys are DNS names (IP
 * literals are dialed as they are, wildcards are not supported), values IP
 * literals, and no name appears twice in different case.
 */
export function validateResolveMap(gateway: DecodedSingleton): Diagnostic[] {
  const map = getMap(gateway, "resolve");
  if (!map) return [];
  const out: Diagnostic[] = [];
  const seen = new Map<string, string>();
  for (const [host, ip] of Object.entries(map)) {
    const key = host.toLowerCase().replace(/\.$/, "");
    const hostErr = isIP(host) !== 0 ? "IP literals are dialed as they are; map host names only" : checkHostName(host);
    if (hostErr) {
      out.push(error("Invalid resolve entry", `resolve[${goQuote(host)}]: ${hostErr}.`, rangeOf(gateway, "resolve")));
    } else if (seen.has(key)) {
      out.push(error("Duplicate resolve entry", `resolve[${goQuote(host)}]: the same name as ${goQuote(seen.get(key)!)} (names match case-insensitively).`, rangeOf(gateway, "resolve")));
    }
    seen.set(key, host);
    if (isIP(ip) === 0) {
      out.push(error("Invalid resolve entry", `resolve[${goQuote(host)}] = ${goQuote(ip)}: not an IP address. Use an IPv4 or IPv6 literal, e.g. "127.0.0.1" or "::1".`, rangeOf(gateway, "resolve")));
    }
  }
  return out;
}

/**
 * Checks that every `proxy` / `forward` names a declared profile. Separate
 * from {@link validateGateway} because it needs the profiles: the loader
 * calls it once profiles are decoded (config/resolve.ts, next to
 * `validateGateway`).
 */
export function validateTransportProfiles(gateway: DecodedSingleton | undefined, profiles: Iterable<string>): Diagnostic[] {
  if (!gateway) return [];
  const known = new Set(profiles);
  const out: Diagnostic[] = [];
  for (const kind of ["proxy", "forward"] as const) {
    const blocks = gateway.blocks[kind] ?? [];
    blocks.forEach((b, i) => {
      const profile = getString(b, "profile");
      if (profile === undefined || profile.trim() === "" || known.has(profile)) return;
      const list = [...known].sort().map(goQuote).join(", ");
      out.push(
        error(
          `Unknown profile on ${kind}`,
          `${transportLabel(kind, b, i, blocks.length)}: profile = ${goQuote(profile)} names no declared profile${list ? ` (declared: ${list})` : ""}.`,
          rangeOf(b, "profile"),
        ),
      );
    });
  }
  return out;
}

/**
 * Every check of the `gateway {}` block, in the order the reference
 * reports them. `gateway` is undefined when the file has no such block.
 */
export function validateGateway(gateway: DecodedSingleton | undefined): Diagnostic[] {
  if (!gateway) {
    return [
      error(
        "Missing gateway block",
        "The config must declare a top-level `gateway { ... }` block with operational settings (state_dir, public_url, the wireguard/tailscale transport sub-blocks, etc.).",
      ),
    ];
  }
  return [
    ...validateTransports(gateway),
    ...validateWireguard(gateway),
    ...validateGatewayTailscale(gateway),
    ...validateLocalTransports(gateway),
    ...validateResolveMap(gateway),
    ...validateGatewaySettings(gateway),
    ...validateLimits(gateway),
  ];
}

/** Checks `defaults {}` beyond its enums: non-negative numbers and a real time zone. */
export function validateDefaults(defaults: DecodedSingleton | undefined): Diagnostic[] {
  if (!defaults) return [];
  const out: Diagnostic[] = [];
  const ttl = getNumber(defaults, "llm_cache_ttl");
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 0)) {
    out.push(error("Invalid defaults.llm_cache_ttl", `llm_cache_ttl = ${ttl}: must be a whole number of seconds, 0 or more (0 disables the cache).`, rangeOf(defaults, "llm_cache_ttl")));
  }
  const timeout = getNumber(defaults, "human_timeout");
  if (timeout !== undefined && (!Number.isInteger(timeout) || timeout <= 0)) {
    out.push(error("Invalid defaults.human_timeout", `human_timeout = ${timeout}: must be a whole number of seconds greater than 0.`, rangeOf(defaults, "human_timeout")));
  }
  const tz = getString(defaults, "timezone");
  if (tz !== undefined && !isTimeZone(tz)) {
    out.push(
      error(
        "Invalid defaults.timezone",
        `timezone = ${goQuote(tz)}: not an IANA time zone name. Use a name like "Europe/Berlin", "America/New_York" or "UTC".`,
        rangeOf(defaults, "timezone"),
      ),
    );
  }
  return out;
}

/** Whether a plugin source names a GitHub repository rather than a local path. */
export function isGithubPluginSource(source: string): boolean {
  return /^github\.com\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(source);
}

/** Checks one `plugin "<name>" {}` block: a usable source and options that fit it. */
export function validatePlugin(plugin: DecodedSingleton): Diagnostic[] {
  const out: Diagnostic[] = [];
  const name = plugin.labels[0] ?? "";
  const source = getString(plugin, "source");
  if (source === undefined) return out;
  const github = isGithubPluginSource(source);
  const local = /^(\/|\.\/|\.\.\/|~\/)/.test(source);
  if (!github && !local) {
    out.push(
      error(
        `Invalid source on plugin ${goQuote(name)}`,
        `source = ${goQuote(source)}: use a local path ("/opt/plugins/x", "./x", "~/x") or a GitHub repository ("github.com/<owner>/<repo>").`,
        rangeOf(plugin, "source"),
      ),
    );
  }
  if (!github) {
    for (const field of ["version", "provenance"]) {
      if (getString(plugin, field) !== undefined) {
        out.push(
          error(
            `${field} set on local plugin ${goQuote(name)}`,
            `\`${field}\` only applies to a GitHub source ("github.com/<owner>/<repo>"); a local path is run as is.`,
            rangeOf(plugin, field),
          ),
        );
      }
    }
  }
  for (const p of getStrings(plugin, "read_paths") ?? []) {
    if (!p.startsWith("/") && !p.startsWith("~/")) {
      out.push(error(`Invalid read_paths entry on plugin ${goQuote(name)}`, `${goQuote(p)}: paths must be absolute or start with "~/".`, rangeOf(plugin, "read_paths")));
    }
  }
  return out;
}
