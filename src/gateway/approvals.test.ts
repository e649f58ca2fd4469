import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ApprovalsEngine, stagesFor, type ApprovalEvent, type ApproverStage, type LlmJudge } from "./approvals.js";
import { GATEWAY, policyOf } from "../config/testing.js";

const subject = { endpoint: "https.stripe", rule: "refunds", summary: "POST /v1/refunds", device: "laptop-1", profile: "ops" };

function human(name: string, extra: Partial<ApproverStage> = {}): ApproverStage {
  return { name, kind: "human", timeoutMs: 5_000, onTimeout: "deny", requireApprovers: 1, failMode: "closed", ...extra };
}
function llm(name: string, extra: Partial<ApproverStage> = {}): ApproverStage {
  return { name, kind: "llm", timeoutMs: 5_000, onTimeout: "deny", requireApprovers: 1, failMode: "closed", ...extra };
}

/** Resolves once the engine has a pending human stage. */
function nextPending(engine: ApprovalsEngine): Promise<string> {
  return new Promise((resolve) => {
    const off = engine.subscribe((e) => {
      if (e.type === "pending") {
        off();
        resolve(e.approval.id);
      }
    });
  });
}

describe("approvals engine", () => {
  it("parks a human stage until an operator allows it", async () => {
    const engine = new ApprovalsEngine();
    const waiting = nextPending(engine);
    const run = engine.run(subject, [human("ops")], new AbortController().signal);
    const id = await waiting;
    assert.equal(engine.pending().length, 1);
    assert.equal(engine.pending()[0]!.subject.summary, "POST /v1/refunds");
    assert.equal(engine.decide(id, "allow", "alice"), true);
    const out = await run;
    assert.equal(out.verdict, "allow");
    assert.deepEqual(out.decisions.map((d) => [d.stage, d.verdict, d.by]), [["ops", "allow", "alice"]]);
    assert.equal(engine.pending().length, 0);
    assert.equal(engine.decide(id, "allow", "bob"), false, "a finished approval cannot be decided again");
  });

  it("a deny ends the chain with the operator's reason", async () => {
    const engine = new ApprovalsEngine();
    const waiting = nextPending(engine);
    const run = engine.run(subject, [human("ops"), human("billing")], new AbortController().signal);
    engine.decide(await waiting, "deny", "alice", "not today");
    const out = await run;
    assert.deepEqual([out.verdict, out.reason, out.decisions.length], ["deny", "not today", 1]);
  });

  it("stages run in order: a denying LLM judge means no human is paged", async () => {
    const events: ApprovalEvent[] = [];
    const judge: LlmJudge = async () => ({ verdict: "deny", reason: "markdown in message", by: "llm:haiku" });
    const engine = new ApprovalsEngine({ llm: judge });
    engine.subscribe((e) => events.push(e));
    const out = await engine.run(subject, [llm("judge"), human("ops")], new AbortController().signal);
    assert.deepEqual([out.verdict, out.reason], ["deny", "markdown in message"]);
    assert.equal(events.filter((e) => e.type === "pending").length, 0);
  });

  it("an allowing judge passes to the human stage", async () => {
    const engine = new ApprovalsEngine({ llm: async () => ({ verdict: "allow", by: "llm:haiku" }) });
    const waiting = nextPending(engine);
    const run = engine.run(subject, [llm("judge"), human("ops")], new AbortController().signal);
    engine.decide(await waiting, "allow", "alice");
    const out = await run;
    assert.deepEqual(out.decisions.map((d) => d.by), ["llm:haiku", "alice"]);
    assert.equal(out.verdict, "allow");
  });

  it("require_approvers counts distinct operators", async () => {
    const engine = new ApprovalsEngine();
    const waiting = nextPending(engine);
    const run = engine.run(subject, [human("billing-strict", { requireApprovers: 2 })], new AbortController().signal);
    const id = await waiting;
    assert.equal(engine.decide(id, "allow", "alice"), true);
    assert.equal(engine.decide(id, "allow", "alice"), false, "the same operator twice does not count");
    assert.equal(engine.pending().length, 1);
    assert.deepEqual(engine.pending()[0]!.approvedBy, ["alice"]);
    engine.decide(id, "allow", "bob");
    assert.equal((await run).verdict, "allow");
  });

  it("a timeout follows human_on_timeout (deny by default, allow when configured)", async () => {
    const engine = new ApprovalsEngine();
    const denied = await engine.run(subject, [human("ops", { timeoutMs: 30 })], new AbortController().signal);
    assert.equal(denied.verdict, "deny");
    assert.match(denied.reason, /did not answer/);
    assert.equal(denied.decisions[0]!.by, "timeout");
    const allowed = await engine.run(subject, [human("ops", { timeoutMs: 30, onTimeout: "allow" })], new AbortController().signal);
    assert.equal(allowed.verdict, "allow");
    assert.equal(engine.pending().length, 0);
  });

  it("a client that disconnects cancels: deny, and the stage leaves the pool", async () => {
    const engine = new ApprovalsEngine();
    const ctl = new AbortController();
    const waiting = nextPending(engine);
    const run = engine.run(subject, [human("ops"), human("second")], ctl.signal);
    const id = await waiting;
    ctl.abort();
    const out = await run;
    assert.deepEqual([out.verdict, out.cancelled], ["deny", true]);
    assert.equal(engine.pending().length, 0);
    assert.equal(engine.decide(id, "allow", "alice"), false, "a late allow cannot resurrect it");
  });

  it("an already-aborted signal never waits", async () => {
    const engine = new ApprovalsEngine();
    const ctl = new AbortController();
    ctl.abort();
    const out = await engine.run(subject, [human("ops")], ctl.signal);
    assert.equal(out.verdict, "deny");
    assert.equal(out.cancelled, true);
  });

  it("LLM failures follow llm_fail_mode; a missing judge too", async () => {
    const boom = new ApprovalsEngine({ llm: async () => Promise.reject(new Error("429")) });
    assert.equal((await boom.run(subject, [llm("j")], new AbortController().signal)).verdict, "deny");
    assert.equal((await boom.run(subject, [llm("j", { failMode: "open" })], new AbortController().signal)).verdict, "allow");
    const slow = new ApprovalsEngine({ llm: () => new Promise(() => {}) });
    const t = await slow.run(subject, [llm("j", { timeoutMs: 30 })], new AbortController().signal);
    assert.deepEqual([t.verdict, t.decisions[0]!.by], ["deny", "llm-fail-mode"]);
    const none = new ApprovalsEngine();
    assert.equal((await none.run(subject, [llm("j")], new AbortController().signal)).verdict, "deny");
  });

  it("an empty chain is a deny", async () => {
    assert.equal((await new ApprovalsEngine().run(subject, [], new AbortController().signal)).verdict, "deny");
  });

  it("stagesFor applies approver settings over defaults", () => {
    const policy = policyOf(`${GATEWAY}
defaults {
  human_timeout    = 90
  human_on_timeout = "allow"
  llm_fail_mode    = "open"
}
endpoint "https" "x" { hosts = ["x.com"] }
credential "anthropic_manual_key" "k" { endpoint = https.x }
approver "human_approver" "strict" {
  channel           = "#billing"
  timeout           = 600
  require_approvers = 2
}
approver "human_approver" "plain" { channel = "#ops" }
approver "llm_approver" "judge" {
  model      = "claude-haiku-4-5-20251001"
  credential = anthropic_manual_key.k
  policy     = "deny anything odd"
}
`);
    const byName = new Map(policy.config.approvers.map((a) => [a.name, a]));
    const stages = stagesFor([byName.get("judge")!, byName.get("strict")!, byName.get("plain")!], policy.defaults);
    assert.deepEqual(
      stages.map((s) => [s.name, s.kind, s.timeoutMs, s.onTimeout, s.requireApprovers, s.failMode]),
      [
        ["judge", "llm", 60_000, "deny", 1, "open"],
        ["strict", "human", 600_000, "allow", 2, "closed"],
        ["plain", "human", 90_000, "allow", 1, "closed"],
      ],
    );
  });
});
