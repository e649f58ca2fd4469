/**
 * `credential "slack_tokens"`: A Slack bot/user token set (plus signing secret for interactive
 * approvals). Injected into Slack API calls, and used by `human_approver`
 * to post approval requests.
 *
 * Which token goes on a request (docs/credentials.md):
 * 1. The kind of token the agent presented — in `Authorization`, else a
 *    `token` query or form parameter — decides by its prefix: `xapp-` →
 *    the app-level token, `xoxp-` → the user token, `xoxb-` → the bot
 *    token. The agent's SDK already picks the right kind per method
 *    (Socket Mode's `apps.connections.open` wants an app token, user-scoped
 *    methods a user token), so shaped placeholders carry that choice.
 * 2. Unrecognisable (a plain placeholder, nothing at all): the app token
 *    for `/api/apps.*` methods when one is stored, else the bot token.
 * A chosen token that is not stored is an error ("missing"), never a
 * silent switch to another identity: a user-token call must not run as
 * the bot. The signing secret is never injected.
 *
 * Legacy SDKs also send `token=` in the query or form body; those copies
 * hold the placeholder and Slack would reject the call, so they are
 * removed and only the header authenticates.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";
import type { OutboundHttpRequest, SlotSpec } from "./http.js";
import { formDecode, readSlots, PRIMARY_SLOT, setBearer } from "./http.js";

const SLOTS: SlotSpec[] = [
  { name: "bot", doc: "Bot token (xoxb-...). When unset, the primary slot (`CLAWPATROL_SECRET_<NAME>`) is used." },
  { name: "app", doc: "App-level token (xapp-...), for Socket Mode and other `apps.*` methods. Optional." },
  { name: "user", doc: "User token (xoxp-...), for calls the agent makes with a user token. Optional." },
  { name: "signing_secret", doc: "Signing secret that verifies Slack's interactive callbacks (approval buttons). Never injected." },
];

type TokenKind = "bot" | "app" | "user";

/** The token the agent presented, wherever it put it. */
function presentedToken(req: OutboundHttpRequest): string | undefined {
  const auth = /^bearer\s+(\S+)/i.exec(req.header("authorization") ?? "");
  return auth?.[1] ?? req.queryParam("token") ?? formParam(req, "token");
}

/** Which token a request gets (see the module comment). */
export function slackTokenKind(req: OutboundHttpRequest, hasApp: () => boolean): TokenKind {
  const t = presentedToken(req) ?? "";
  if (t.startsWith("xapp-")) return "app";
  if (t.startsWith("xoxp-")) return "user";
  if (t.startsWith("xoxb-")) return "bot";
  return req.path.startsWith("/api/apps.") && hasApp() ? "app" : "bot";
}

function isForm(req: OutboundHttpRequest): boolean {
  return /^application\/x-www-form-urlencoded\b/i.test(req.header("content-type") ?? "");
}

function formParam(req: OutboundHttpRequest, name: string): string | undefined {
  if (!isForm(req) || req.body === undefined) return undefined;
  for (const part of Buffer.from(req.body).toString("latin1").split("&")) {
    const eq = part.indexOf("=");
    if (formDecode(eq < 0 ? part : part.slice(0, eq)) === name) return eq < 0 ? "" : formDecode(part.slice(eq + 1));
  }
  return undefined;
}

/** Drops `name` from a complete form body, keeping every other byte. */
function removeFormParam(req: OutboundHttpRequest, name: string): void {
  if (!isForm(req) || req.body === undefined || req.bodyTruncated) return;
  const parts = Buffer.from(req.body).toString("latin1").split("&");
  const kept = parts.filter((part) => {
    const eq = part.indexOf("=");
    return formDecode(eq < 0 ? part : part.slice(0, eq)) !== name;
  });
  if (kept.length !== parts.length) req.replaceBody(Buffer.from(kept.join("&"), "latin1"));
}

/** The spec of `credential "slack_tokens"`; registered in ../registry.ts. */
export const slackTokensCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "slack_tokens",
  doc: "Slack tokens (bot token, optional user token and signing secret). Injected into Slack API calls; a `human_approver` posts approval requests with it.",
  discriminators: ["placeholder"],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
  http: {
    slots: SLOTS,
    inject(req, ctx) {
      const kind = slackTokenKind(req, () => !!ctx.secret.get("app"));
      const slot = kind !== "bot" ? kind : ctx.secret.get("bot") ? "bot" : PRIMARY_SLOT;
      const r = readSlots(ctx.secret, [slot], { header: true });
      if (!r.ok && slot === PRIMARY_SLOT && r.error.endsWith("missing")) {
        return { ok: false, error: 'secret slot "bot" missing (and no primary slot)' };
      }
      if (!r.ok) return r;
      const token = r.values[slot]!;
      setBearer(req, token);
      req.removeQueryParam("token");
      removeFormParam(req, "token");
      return { ok: true, injected: [token] };
    },
  },
};
