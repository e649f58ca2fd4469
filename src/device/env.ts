/**
 * Env pushdown for commands run through the tunnel (`clawpatrol run`,
 * `clawpatrol env`):
 *
 * - CA bundle variables, all pointing at `ca-bundle.pem` (system roots + the
 *   gateway CA), so intercepted TLS verifies in curl, OpenSSL-based tools,
 *   Python (requests, pip), git, AWS CLI, Deno, Cargo;
 *   `NODE_EXTRA_CA_CERTS` points at the gateway CA alone (Node adds it to
 *   its own roots); `PGSSLROOTCERT` only when the caller has not set it
 *   (psql with `sslmode=verify-full` then trusts the gateway's leaf);
 * - the profile's credential placeholders from the enrollment (e.g.
 *   `PGPASSWORD`), never real secrets — the gateway swaps them upstream;
 * - `CLAWPATROL_DEVICE`, `CLAWPATROL_PROFILE`, `CLAWPATROL_GATEWAY` (the
 *   agent-facing URL inside the tunnel).
 */
import type { ActiveState } from "./state.js";
import { bundlePath, caPath } from "./state.js";

/** Variables set to the CA bundle. */
export const CA_BUNDLE_VARS = [
  "SSL_CERT_FILE",
  "REQUESTS_CA_BUNDLE",
  "CURL_CA_BUNDLE",
  "GIT_SSL_CAINFO",
  "AWS_CA_BUNDLE",
  "PIP_CERT",
  "DENO_CERT",
  "CARGO_HTTP_CAINFO",
] as const;

/** The variables to add to `base` (what `run` sets and `env` prints). */
export function pushdownEnv(state: ActiveState, dir: string, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const bundle = bundlePath(dir);
  const out: Record<string, string> = {};
  for (const v of CA_BUNDLE_VARS) out[v] = bundle;
  out.NODE_EXTRA_CA_CERTS = caPath(dir);
  if (base.PGSSLROOTCERT === undefined) out.PGSSLROOTCERT = bundle;
  for (const [k, v] of Object.entries(state.env ?? {})) {
    if (/^[A-Z_][A-Z0-9_]*$/.test(k)) out[k] = v;
  }
  out.CLAWPATROL_DEVICE = state.name;
  out.CLAWPATROL_PROFILE = state.profile;
  if (state.agentUrl) out.CLAWPATROL_GATEWAY = state.agentUrl;
  return out;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** `export NAME='value'` lines. */
export function formatExports(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `export ${k}=${shellQuote(v)}\n`)
    .join("");
}
