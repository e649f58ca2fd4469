/**
 * The one list of built-in plugin types. The loader, the compiler and the
 * docs look types up here and nowhere else, so adding a type is one module
 * plus one line in {@link SPECS}.
 */
import type { FieldSpec, PluginKind, TypeSpec, EndpointTypeSpec, CredentialTypeSpec, ApproverTypeSpec, TunnelTypeSpec } from "./schema.js";
import { CREDENTIAL_LOADER_FIELDS } from "./common.js";

import { httpsEndpoint } from "./endpoints/https.js";
import { openaiCodexHttpsEndpoint } from "./endpoints/openai_codex_https.js";
import { kubernetesEndpoint } from "./endpoints/kubernetes.js";
import { postgresEndpoint } from "./endpoints/postgres.js";
import { sshEndpoint } from "./endpoints/ssh.js";
import { clickhouseHttpsEndpoint } from "./endpoints/clickhouse_https.js";
import { clickhouseNativeEndpoint } from "./endpoints/clickhouse_native.js";

import { anthropicManualKeyCredential } from "./credentials/anthropic_manual_key.js";
import { anthropicOauthSubscriptionCredential } from "./credentials/anthropic_oauth_subscription.js";
import { awsCredential } from "./credentials/aws_credential.js";
import { basicAuthCredential } from "./credentials/basic_auth.js";
import { bearerTokenCredential } from "./credentials/bearer_token.js";
import { clickhouseCredential } from "./credentials/clickhouse_credential.js";
import { cookieTokenCredential } from "./credentials/cookie_token.js";
import { discordBotTokenCredential } from "./credentials/discord_bot_token.js";
import { geminiApiKeyCredential } from "./credentials/gemini_api_key.js";
import { githubOauthCredential } from "./credentials/github_oauth.js";
import { googleGkeCredential } from "./credentials/google_gke_credential.js";
import { headerTokenCredential } from "./credentials/header_token.js";
import { mtlsCredential } from "./credentials/mtls_credential.js";
import { notionMcpOauthCredential } from "./credentials/notion_mcp_oauth.js";
import { notionOauthCredential } from "./credentials/notion_oauth.js";
import { openaiCodexOauthCredential } from "./credentials/openai_codex_oauth.js";
import { passthroughCredential } from "./credentials/passthrough.js";
import { postgresCredential } from "./credentials/postgres_credential.js";
import { slackTokensCredential } from "./credentials/slack_tokens.js";
import { sshKeyCredential } from "./credentials/ssh_key.js";
import { tailscaleAuthCredential } from "./credentials/tailscale_auth.js";
import { telegramBotTokenCredential } from "./credentials/telegram_bot_token.js";

import { humanApprover } from "./approvers/human_approver.js";
import { llmApprover } from "./approvers/llm_approver.js";

import { kubernetesPortForwardTunnel } from "./tunnels/kubernetes_port_forward.js";
import { localCommandTunnel } from "./tunnels/local_command.js";
import { sshPortForwardTunnel } from "./tunnels/ssh_port_forward.js";
import { tailscaleTunnel } from "./tunnels/tailscale.js";

/** Every built-in type, in documentation order (kind, then type name). */
export const SPECS: readonly TypeSpec[] = [
  clickhouseHttpsEndpoint,
  clickhouseNativeEndpoint,
  httpsEndpoint,
  kubernetesEndpoint,
  openaiCodexHttpsEndpoint,
  postgresEndpoint,
  sshEndpoint,

  anthropicManualKeyCredential,
  anthropicOauthSubscriptionCredential,
  awsCredential,
  basicAuthCredential,
  bearerTokenCredential,
  clickhouseCredential,
  cookieTokenCredential,
  discordBotTokenCredential,
  geminiApiKeyCredential,
  githubOauthCredential,
  googleGkeCredential,
  headerTokenCredential,
  mtlsCredential,
  notionMcpOauthCredential,
  notionOauthCredential,
  openaiCodexOauthCredential,
  passthroughCredential,
  postgresCredential,
  slackTokensCredential,
  sshKeyCredential,
  tailscaleAuthCredential,
  telegramBotTokenCredential,

  humanApprover,
  llmApprover,

  kubernetesPortForwardTunnel,
  localCommandTunnel,
  sshPortForwardTunnel,
  tailscaleTunnel,
];

/** The spec type for each plugin kind. */
export interface SpecByKind {
  endpoint: EndpointTypeSpec;
  credential: CredentialTypeSpec;
  approver: ApproverTypeSpec;
  tunnel: TunnelTypeSpec;
}

/** Plugin kinds in documentation order. */
export const PLUGIN_KINDS: readonly PluginKind[] = ["endpoint", "credential", "approver", "tunnel"];

/**
 * Approvers the gateway provides without a declaration, referenced as
 * `builtin.<name>` (e.g. `approve = [builtin.dashboard]`: a human decides on
 * the dashboard, with no channel notification).
 */
export const BUILTIN_APPROVERS: readonly string[] = ["dashboard"];

/** The traversal root under which built-in approvers are referenced. */
export const BUILTIN_APPROVER_ROOT = "builtin";

const byKind = new Map<PluginKind, Map<string, TypeSpec>>(PLUGIN_KINDS.map((k) => [k, new Map()]));
for (const spec of SPECS) {
  const table = byKind.get(spec.kind)!;
  for (const name of [spec.type, ...(spec.aliases ?? [])]) {
    if (table.has(name)) throw new Error(`duplicate ${spec.kind} type ${name} in the registry`);
    table.set(name, spec);
  }
}

/**
 * The spec for `kind "<t>"`, accepting a type's older aliases. Undefined
 * for unknown types (the caller reports them, using {@link typesOf}).
 */
export function specFor<K extends PluginKind>(kind: K, t: string): SpecByKind[K] | undefined {
  return byKind.get(kind)!.get(t) as SpecByKind[K] | undefined;
}

/** Looks up `endpoint "<t>"`. */
export function endpointType(t: string): EndpointTypeSpec | undefined {
  return specFor("endpoint", t);
}

/** Looks up `credential "<t>"` (aliases included). */
export function credentialType(t: string): CredentialTypeSpec | undefined {
  return specFor("credential", t);
}

/** Looks up `approver "<t>"`. */
export function approverType(t: string): ApproverTypeSpec | undefined {
  return specFor("approver", t);
}

/** Looks up `tunnel "<t>"`. */
export function tunnelType(t: string): TunnelTypeSpec | undefined {
  return specFor("tunnel", t);
}

/** Every accepted first label of a kind, aliases included, sorted — the "did you mean" candidates. */
export function typesOf(kind: PluginKind): string[] {
  return [...byKind.get(kind)!.keys()].sort();
}

/**
 * Every accepted first label across all kinds (aliases included): a bare
 * name that is one of these was almost certainly meant as `<type>.<name>`.
 */
export function allTypeNames(): ReadonlySet<string> {
  return new Set(PLUGIN_KINDS.flatMap((k) => typesOf(k)));
}

/** The specs of one kind, canonical types only, in {@link SPECS} order. */
export function specsOf<K extends PluginKind>(kind: K): SpecByKind[K][] {
  return SPECS.filter((s) => s.kind === kind) as SpecByKind[K][];
}

/**
 * Every field a block of this type may set: the type's own plus, for
 * credentials, the loader-interpreted binding/dispatch fields. What an
 * "Unsupported argument" check and the docs should consult.
 */
export function fieldsOf(spec: TypeSpec): Record<string, FieldSpec> {
  return spec.kind === "credential" ? { ...CREDENTIAL_LOADER_FIELDS, ...spec.fields } : spec.fields;
}
