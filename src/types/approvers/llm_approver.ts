/**
 * `approver "llm_approver"`: a model judges the request against the
 * operator's prose `policy`, authenticated with a bound credential through
 * the same injection path agents use. `claude-*` models go to Anthropic's
 * Messages API; `gpt-*` / `o*` models to OpenAI's Responses API.
 */
import { warning } from "../../config/diagnostics.js";
import type { ApproverTypeSpec } from "../schema.js";
import { getString, rangeOf } from "../common.js";
import { goQuote } from "../formats.js";

/** Model-name prefixes the judge knows how to call. */
export const LLM_MODEL_PREFIXES = ["claude-", "gpt-", "o"] as const;

/** The spec of `approver "llm_approver"`; registered in ../registry.ts. */
export const llmApprover: ApproverTypeSpec = {
  kind: "approver",
  type: "llm_approver",
  doc:
    "A model-based judge: it reads the request and the `policy` text and answers allow or deny. Also usable as a " +
    "`human_approver` classifier. Outages follow `defaults.llm_fail_mode`; decisions are cached for `defaults.llm_cache_ttl`.",
  fields: {
    model: {
      type: "string",
      required: true,
      doc: 'Model id, e.g. "claude-haiku-4-5-20251001" (Anthropic) or "gpt-…" / "o…" (OpenAI).',
    },
    credential: {
      type: { ref: "credential" },
      required: true,
      doc: "The credential that authenticates the model API call (e.g. `anthropic_manual_key.<name>`). It need not be in any profile.",
    },
    policy: {
      type: "string",
      doc: "The prose the model judges requests against — usually a heredoc. Unset: the rule's `reason` is used.",
    },
  },
  validate(b) {
    const model = getString(b, "model");
    if (model === undefined || LLM_MODEL_PREFIXES.some((p) => model.startsWith(p))) return [];
    return [
      warning(
        `Unknown model family on llm_approver ${goQuote(b.name)}`,
        `model = ${goQuote(model)}: only claude-*, gpt-* and o* models can be called; every request this approver judges will be denied.`,
        rangeOf(b, "model"),
      ),
    ];
  },
};
