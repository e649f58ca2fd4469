/**
 * `approver "human_approver"`: a person decides. The request waits in the
 * gateway's approval pool (visible on the dashboard); when a notifier
 * credential is bound, a message goes to `channel` too, and whoever acts
 * first decides.
 *
 * `require_approvers` is parsed but ignored by the reference; we enforce
 * it. `async_grant {}` lets a long wait return 202 to the agent and admit
 * the retried request once approved.
 */
import type { Diagnostic } from "../../config/diagnostics.js";
import { warning } from "../../config/diagnostics.js";
import type { ApproverTypeSpec, DecodedBlock, ValidateContext } from "../schema.js";
import type { DecodedBody } from "../common.js";
import { getBool, getNumber, getRef, getString, rangeOf, validateIntRange } from "../common.js";
import { goQuote, parseDuration } from "../formats.js";

/** Largest `async_grant.max_body_bytes` (8 MiB): bodies are buffered whole to fingerprint them. */
export const ASYNC_GRANT_MAX_BODY_BYTES = 8 * 1024 * 1024;

/** A positive duration field of the async-grant set, checked with the reference's wording. */
function asyncDuration(owner: string, body: DecodedBody, field: string, label: string, ctx: ValidateContext): Diagnostic[] {
  const v = getString(body, field);
  if (v === undefined || v === "") return [];
  const p = parseDuration(v);
  if (!p.ok) return [ctx.error(`invalid ${label}`, `approver ${goQuote(owner)}: ${p.error}`, rangeOf(body, field))];
  if (p.value <= 0) {
    return [ctx.error(`${label} must be positive`, `approver ${goQuote(owner)}: ${field} must be greater than zero.`, rangeOf(body, field))];
  }
  return [];
}

function validateHuman(b: DecodedBlock, ctx: ValidateContext): Diagnostic[] {
  const out: Diagnostic[] = [];
  out.push(...validateIntRange(b, "timeout", 1, Number.MAX_SAFE_INTEGER, ctx));
  out.push(...validateIntRange(b, "require_approvers", 1, Number.MAX_SAFE_INTEGER, ctx));
  const classifier = getRef(b, "classifier");
  if (classifier && classifier.type !== "llm_approver") {
    out.push(
      ctx.error(
        `Invalid classifier on human_approver ${goQuote(b.name)}`,
        `classifier must reference an llm_approver (got ${classifier.type}.${classifier.name}).`,
        classifier.range,
      ),
    );
  }
  if (getBool(b, "interactive") === true && !getRef(b, "credential")) {
    out.push(
      warning(
        `interactive set without credential on human_approver ${goQuote(b.name)}`,
        "In-channel approve/deny buttons are posted through the notifier credential; bind one with `credential = slack_tokens.<name>`, or remove interactive.",
        rangeOf(b, "interactive"),
      ),
    );
  }
  out.push(...asyncDuration(b.name, b, "sync_wait_timeout", "sync_wait_timeout", ctx));
  for (const grant of b.blocks?.["async_grant"] ?? []) {
    if (getBool(grant, "enabled") !== true) continue;
    out.push(...asyncDuration(b.name, grant, "approved_retry_ttl", "async_grant.approved_retry_ttl", ctx));
    out.push(...asyncDuration(b.name, grant, "approval_ttl", "async_grant.approval_ttl", ctx));
    const fp = getString(grant, "fingerprint_body") ?? "raw";
    if (fp !== "raw") {
      out.push(
        ctx.error(
          "async_grant.fingerprint_body must be raw",
          `approver ${goQuote(b.name)}: v1 supports only fingerprint_body = "raw", got ${goQuote(fp)}.`,
          rangeOf(grant, "fingerprint_body"),
        ),
      );
    }
    const max = getNumber(grant, "max_body_bytes");
    if (max !== undefined && max <= 0) {
      out.push(
        ctx.error(
          "async_grant.max_body_bytes must be positive",
          `approver ${goQuote(b.name)}: max_body_bytes must be greater than zero.`,
          rangeOf(grant, "max_body_bytes"),
        ),
      );
    } else if (max !== undefined && max > ASYNC_GRANT_MAX_BODY_BYTES) {
      out.push(
        ctx.error(
          "async_grant.max_body_bytes exceeds hard maximum",
          `approver ${goQuote(b.name)}: max_body_bytes must be <= ${ASYNC_GRANT_MAX_BODY_BYTES} in v1.`,
          rangeOf(grant, "max_body_bytes"),
        ),
      );
    }
  }
  return out;
}

/** The spec of `approver "human_approver"`; registered in ../registry.ts. */
export const humanApprover: ApproverTypeSpec = {
  kind: "approver",
  type: "human_approver",
  doc:
    "A human decision, taken on the dashboard or — with a notifier credential — in a chat channel. Unanswered " +
    "requests end after `timeout` with `defaults.human_on_timeout`.",
  fields: {
    channel: {
      type: "string",
      required: true,
      doc: 'Where approval requests are posted: a Slack channel ("#ops") or the notifier\'s equivalent target.',
    },
    credential: {
      type: { ref: "credential" },
      doc: "The notifier credential used to post requests (`slack_tokens` today). Unset: dashboard-only approval.",
    },
    timeout: {
      type: "int",
      doc: "Seconds to wait for a decision; overrides `defaults.human_timeout` (whose own default is 600).",
    },
    require_approvers: {
      type: "int",
      default: 1,
      doc: "How many different people must approve before the request proceeds. Any denial ends it. (Parsed but ignored by the reference; enforced here.)",
    },
    interactive: {
      type: "bool",
      default: false,
      doc:
        "Put approve/deny buttons in the channel message. Needs the credential's signing secret and the chat app's " +
        "interactivity URL pointed at the gateway; otherwise the message links to the dashboard.",
    },
    classifier: {
      type: { ref: "approver" },
      doc: "An `llm_approver` asked to summarise the request for the approval message. Its failure only drops the summary.",
    },
    message: {
      type: "string",
      doc:
        "Custom text for the approval message, with `{{var}}` placeholders filled from the request (`{{http.method}}`, " +
        "`{{http.path}}`, `{{k8s.verb}}`, `{{sql.tables}}`, `{{profile}}`, `{{endpoint}}`, `{{reason}}`, ...).",
    },
    sync_wait_timeout: {
      type: "string",
      doc:
        'How long the agent\'s request is held open ("90s") before an async-capable approval answers 202 and the agent ' +
        "polls/retries instead. Only with `async_grant { enabled = true }` and a profile with `hitl_async_grants = true`.",
    },
  },
  blocks: {
    async_grant: {
      doc:
        "Async approvals: after `sync_wait_timeout` the agent gets 202 and, once a human approves, a one-time grant " +
        "admits the identical retried request.",
      fields: {
        enabled: { type: "bool", default: false, doc: "Turn async approvals on for this approver (the profile must opt in too)." },
        approval_ttl: { type: "string", doc: 'How long a pending async approval stays open ("10m"). Defaults to the approver\'s timeout.' },
        approved_retry_ttl: {
          type: "string",
          default: "5m",
          doc: 'How long the agent has to retry after approval ("5m").',
        },
        fingerprint_body: {
          type: "string",
          enum: ["raw"],
          default: "raw",
          doc: 'How the retried request is matched to the approved one: "raw" compares the exact body bytes.',
        },
        max_body_bytes: {
          type: "int",
          default: 1048576,
          doc: "Largest request body eligible for async approval (at most 8 MiB).",
        },
      },
    },
  },
  validate: validateHuman,
};
