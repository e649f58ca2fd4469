/**
 * Compiling rule conditions: CEL source → a checked, normalised program that
 * evaluates to true, false, or "unevaluable".
 *
 * Beyond plain CEL this adds what a security policy needs:
 * - type checking against the family's environment at load time;
 * - lower-casing of string literals compared with lower-cased facets
 *   (`http.method == 'POST'` matches);
 * - RE2 `matches` with patterns validated at load;
 * - **unknowns**: when a request's facet could not be fully inspected
 *   (truncated body, unparseable SQL), every sub-expression reading it is
 *   unknown, unknowns propagate through every operator, and `&&` / `||`
 *   absorb them only when the other side decides the outcome
 *   (`unknown && false` is false, `unknown || true` is true). A condition
 *   whose outcome depends on an unknown or on a runtime error is
 *   {@link Unevaluable}; the decision function turns that into a deny.
 */
import type { ASTNode, ParseResult } from "@marcbachmann/cel-js";
import type { Family, UnknownCause } from "../action.js";
import { familyEnv, LOWERCASE_FIELDS, RE2_MATCHES_FN, VARIABLE_SCHEMAS, type FamilyEnv } from "./env.js";
import { re2Error } from "./re2.js";
import { jitCompile } from "./jit.js";

/** Why a condition has no honest boolean value for a request. */
export interface Unevaluable {
  unevaluable: true;
  /** Coarse category, safe to show the agent. */
  cause: UnknownCause | "error";
  /** Precise detail (facet paths or the evaluator's message) — for logs only. */
  detail: string;
}

export type ConditionResult = boolean | Unevaluable;

/** Per-request variable values, keyed by variable name (`http`, `op`, ...). */
export type Activation = Record<string, object>;

/** Unknown facet paths of the request (`http.body` → cause). */
export type UnknownPaths = ReadonlyMap<string, UnknownCause>;

export interface CompiledCondition {
  readonly source: string;
  readonly family: Family;
  /** Variable paths the condition reads (`http.method`, `op.class`, `http.*` for whole-variable use). */
  readonly reads: ReadonlySet<string>;
  /**
   * Whether evaluation runs entirely as compiled closures. Such conditions
   * read plain facet objects; the others go through cel-js, which needs the
   * typed wrappers `celValue` builds.
   */
  readonly native: boolean;
  /**
   * A top-level conjunct pinning the family's verb field to a set of values
   * (`http.method in ['post', 'put'] && ...`): the condition is false for
   * any other value, whatever the rest says — CEL's `false && x` is false
   * even when `x` errors — so the rule can be skipped without evaluating it.
   */
  readonly guard?: Guard;
  /**
   * The raw program, for callers that evaluate many conditions in a row with
   * no unknowns: returns the value or throws on a CEL error (which the caller
   * must treat as unevaluable). `evaluate` wraps exactly this.
   */
  readonly run: (activation: Activation) => unknown;
  evaluate(activation: Activation, unknown?: UnknownPaths): ConditionResult;
}

/** See {@link CompiledCondition.guard}. */
export interface Guard {
  /** `http.method`, `k8s.verb`, `sql.verb` or `ssh.verb`. */
  path: string;
  values: ReadonlySet<string>;
}

/** The verb-like field each family's rules are indexed by. */
export const GUARD_FIELDS: Readonly<Record<Family, string>> = {
  http: "http.method",
  k8s: "k8s.verb",
  sql: "sql.verb",
  ssh: "ssh.verb",
};

/** A compile failure with a cel-go-like report: `ERROR: <input>:1:16: ...` plus a caret line. */
export interface CelCompileError {
  message: string;
  /** 0-based offset in the condition source. */
  offset: number;
}

export type CompileResult = { ok: true; condition: CompiledCondition } | { ok: false; error: CelCompileError };

type Node = ASTNode;

/** Evaluates a checked expression: the JIT's closures when possible, else cel-js. */
type Evaluator = (activation: Activation) => unknown;

type Skeleton =
  | { k: "and" | "or"; a: Skeleton; b: Skeleton }
  | { k: "not"; x: Skeleton }
  | { k: "cond"; c: Skeleton; t: Skeleton; f: Skeleton }
  | { k: "leaf"; reads: string[]; program: Evaluator };

/** The fastest correct evaluator for a parsed (and rewritten) expression. */
function evaluator(fe: FamilyEnv, program: ParseResult): Evaluator {
  return jitCompile(program.ast, fe.re2) ?? celJsEvaluator(program);
}

const CEL_JS = Symbol("cel-js");

function celJsEvaluator(program: ParseResult): Evaluator {
  return Object.assign((act: Activation) => program(act), { [CEL_JS]: true });
}

/** Compiles one condition for a family. Empty/blank source is the catch-all `true`. */
export function compileCondition(source: string, family: Family): CompileResult {
  const fe = familyEnv(family);
  if (source.trim() === "") {
    return { ok: true, condition: constantTrue(source, family) };
  }
  const prepared = prepare(fe, source);
  if (!prepared.ok) return prepared;
  const { program } = prepared;
  const checked = program.check();
  if (!checked.valid) {
    return { ok: false, error: fromCelError(source, checked.error, family) };
  }
  if (checked.type !== "bool" && checked.type !== "dyn") {
    return {
      ok: false,
      error: report(source, 0, `condition must be a boolean expression, but it has type ${checked.type}`),
    };
  }
  const reads = new Set<string>();
  collectReads(program.ast, reads);
  let skeleton: Skeleton | undefined;
  const getSkeleton = (): Skeleton => (skeleton ??= buildSkeleton(fe, source, program.ast));
  const run = evaluator(fe, program);
  const guard = guardOf(program.ast, GUARD_FIELDS[family]);
  const condition: CompiledCondition = {
    source,
    family,
    reads,
    native: !(CEL_JS in run),
    run,
    ...(guard ? { guard } : {}),
    evaluate(activation, unknown) {
      if (unknown && unknown.size > 0 && readsAny(reads, unknown)) {
        return evalSkeleton(getSkeleton(), activation, unknown);
      }
      return runProgram(run, activation);
    },
  };
  return { ok: true, condition };
}

function constantTrue(source: string, family: Family): CompiledCondition {
  return { source, family, reads: new Set(), native: true, run: () => true, evaluate: () => true };
}

type Prepared = { ok: true; program: ParseResult } | { ok: false; error: CelCompileError };

/** Parses and applies our rewrites (RE2 matches, literal normalisation). */
function prepare(fe: FamilyEnv, source: string): Prepared {
  let program: ParseResult;
  try {
    program = fe.env.parse(source);
  } catch (e) {
    return { ok: false, error: fromCelError(source, e, fe.family) };
  }
  const problem = rewrite(program.ast, fe);
  if (problem) return { ok: false, error: report(source, problem.offset, problem.message) };
  return { ok: true, program };
}

function runProgram(program: Evaluator, activation: Activation): ConditionResult {
  try {
    const v: unknown = program(activation);
    if (v === true || v === false) return v;
    return { unevaluable: true, cause: "error", detail: `condition evaluated to a non-boolean value (${typeof v})` };
  } catch (e) {
    return { unevaluable: true, cause: "error", detail: firstLine(e instanceof Error ? e.message : String(e)) };
  }
}

// ---------------------------------------------------------------------------
// AST helpers

/** `root.field` for a direct field access on a variable, else undefined. */
function fieldPath(n: Node): string | undefined {
  if (n.op !== ".") return undefined;
  const [target, field] = n.args as [Node, string];
  if (target.op === "id" && (target.args as string) in VARIABLE_SCHEMAS) return `${target.args as string}.${field}`;
  return undefined;
}

function isLowercasePath(n: Node): boolean {
  const p = fieldPath(n);
  return p !== undefined && LOWERCASE_FIELDS.has(p);
}

function lowerValue(n: Node): void {
  if (n.op === "value" && typeof n.args === "string") {
    (n as { args: unknown }).args = n.args.toLowerCase();
  }
}

function lowerList(n: Node): void {
  if (n.op === "list") for (const item of n.args as Node[]) lowerValue(item);
}

function children(n: Node): Node[] {
  const out: Node[] = [];
  const visit = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(visit);
    else if (x && typeof x === "object" && "op" in x) out.push(x as Node);
  };
  visit(n.args);
  return out;
}

/**
 * Rewrites in place: RE2 `matches`, lower-cased literals. Returns the first
 * problem (an invalid literal regex) so the rule fails to load.
 */
function rewrite(root: Node, fe: FamilyEnv): { offset: number; message: string } | undefined {
  let problem: { offset: number; message: string } | undefined;
  const visit = (n: Node): void => {
    switch (n.op) {
      case "==":
      case "!=": {
        const [a, b] = n.args as [Node, Node];
        if (isLowercasePath(a)) lowerValue(b);
        if (isLowercasePath(b)) lowerValue(a);
        break;
      }
      case "in": {
        const [a, b] = n.args as [Node, Node];
        if (isLowercasePath(a)) lowerList(b);
        if (isLowercasePath(b)) lowerValue(a);
        break;
      }
      case "rcall": {
        const args = n.args as [string, Node, Node[]];
        const [name, receiver, params] = args;
        if (isLowercasePath(receiver) && ["startsWith", "endsWith", "contains"].includes(name)) {
          params.forEach(lowerValue);
        }
        if (receiver.op === "id" && receiver.args === "sets") {
          if (params.some(isLowercasePath)) params.forEach(lowerList);
        }
        if (name === "matches") {
          args[0] = RE2_MATCHES_FN;
          problem ??= checkPattern(params[0], fe);
        }
        break;
      }
      case "call": {
        const [name, params] = n.args as [string, Node[]];
        if (name === "matches") problem ??= checkPattern(params[1], fe);
        break;
      }
    }
    for (const c of children(n)) visit(c);
  };
  visit(root);
  return problem;
}

function checkPattern(n: Node | undefined, fe: FamilyEnv): { offset: number; message: string } | undefined {
  if (!n || n.op !== "value" || typeof n.args !== "string") return undefined;
  const err = re2Error(n.args);
  if (err !== undefined) return { offset: n.start, message: `invalid regular expression ${JSON.stringify(n.args)}: ${err}` };
  fe.re2.precompile(n.args);
  return undefined;
}

/** Values a top-level `&&` conjunct restricts `path` to, if any (intersected across conjuncts). */
function guardOf(root: Node, path: string): Guard | undefined {
  let values: Set<string> | undefined;
  const restrict = (vs: string[]) => {
    values = values ? new Set(vs.filter((v) => values!.has(v))) : new Set(vs);
  };
  const visit = (n: Node): void => {
    if (n.op === "&&") {
      const [a, b] = n.args as [Node, Node];
      visit(a);
      visit(b);
      return;
    }
    if (n.op === "==") {
      const [a, b] = n.args as [Node, Node];
      for (const [f, v] of [
        [a, b],
        [b, a],
      ] as const) {
        if (fieldPath(f) === path && v.op === "value" && typeof v.args === "string") restrict([v.args]);
      }
      return;
    }
    if (n.op === "in") {
      const [a, b] = n.args as [Node, Node];
      const items = b.op === "list" ? (b.args as Node[]) : undefined;
      if (fieldPath(a) === path && items && items.every((i) => i.op === "value" && typeof i.args === "string")) {
        restrict(items.map((i) => i.args as string));
      }
    }
  };
  visit(root);
  return values ? { path, values } : undefined;
}

function collectReads(n: Node, out: Set<string>): void {
  const path = fieldPath(n);
  if (path !== undefined) {
    out.add(path);
    return;
  }
  if (n.op === "id" && (n.args as string) in VARIABLE_SCHEMAS) {
    out.add(`${n.args as string}.*`);
    return;
  }
  for (const c of children(n)) collectReads(c, out);
}

function readsAny(reads: Iterable<string>, unknown: UnknownPaths): boolean {
  for (const r of reads) {
    if (unknown.has(r)) return true;
    if (r.endsWith(".*")) {
      const prefix = r.slice(0, -1);
      for (const u of unknown.keys()) if (u.startsWith(prefix)) return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------
// Three-valued evaluation

/** Splits the boolean structure (&&, ||, !, ?:) from the leaves it combines. */
function buildSkeleton(fe: FamilyEnv, source: string, n: Node): Skeleton {
  switch (n.op) {
    case "&&":
    case "||": {
      const [a, b] = n.args as [Node, Node];
      return { k: n.op === "&&" ? "and" : "or", a: buildSkeleton(fe, source, a), b: buildSkeleton(fe, source, b) };
    }
    case "!_":
      return { k: "not", x: buildSkeleton(fe, source, n.args as Node) };
    case "?:": {
      const [c, t, f] = n.args as [Node, Node, Node];
      return {
        k: "cond",
        c: buildSkeleton(fe, source, c),
        t: buildSkeleton(fe, source, t),
        f: buildSkeleton(fe, source, f),
      };
    }
    default: {
      const reads = new Set<string>();
      collectReads(n, reads);
      const prepared = prepare(fe, source.slice(n.start, n.end));
      // A sub-expression of a valid condition is itself valid; if the slice
      // somehow fails to parse or check, evaluating the leaf is an error (fail closed).
      const program: Evaluator =
        prepared.ok && prepared.program.check().valid
          ? evaluator(fe, prepared.program)
          : () => {
              throw new Error("internal: condition leaf could not be re-compiled");
            };
      return { k: "leaf", reads: [...reads], program };
    }
  }
}

function unknownCause(reads: readonly string[], unknown: UnknownPaths): Unevaluable | undefined {
  const hit: string[] = [];
  let cause: UnknownCause | undefined;
  for (const r of reads) {
    for (const [path, c] of unknown) {
      if (path === r || (r.endsWith(".*") && path.startsWith(r.slice(0, -1)))) {
        hit.push(path);
        cause ??= c;
      }
    }
  }
  if (!cause) return undefined;
  return { unevaluable: true, cause, detail: `depends on ${[...new Set(hit)].join(", ")}` };
}

function evalSkeleton(s: Skeleton, act: Activation, unknown: UnknownPaths): ConditionResult {
  switch (s.k) {
    case "leaf":
      return unknownCause(s.reads, unknown) ?? runProgram(s.program, act);
    case "not": {
      const x = evalSkeleton(s.x, act, unknown);
      return typeof x === "boolean" ? !x : x;
    }
    case "and": {
      const a = evalSkeleton(s.a, act, unknown);
      if (a === false) return false;
      const b = evalSkeleton(s.b, act, unknown);
      if (b === false) return false;
      if (a === true) return b;
      return a;
    }
    case "or": {
      const a = evalSkeleton(s.a, act, unknown);
      if (a === true) return true;
      const b = evalSkeleton(s.b, act, unknown);
      if (b === true) return true;
      if (a === false) return b;
      return a;
    }
    case "cond": {
      const c = evalSkeleton(s.c, act, unknown);
      if (typeof c !== "boolean") return c;
      return evalSkeleton(c ? s.t : s.f, act, unknown);
    }
  }
}

// ---------------------------------------------------------------------------
// Error reporting

function firstLine(s: string): string {
  const i = s.indexOf("\n");
  return i < 0 ? s : s.slice(0, i);
}

/** Formats an error like cel-go: `ERROR: <input>:L:C: msg` + source line + caret. */
function report(source: string, offset: number, message: string): CelCompileError {
  const before = source.slice(0, offset);
  const line = before.split("\n").length;
  const lineStart = before.lastIndexOf("\n") + 1;
  const col = offset - lineStart + 1;
  const text = source.split("\n")[line - 1] ?? "";
  const caret = `${".".repeat(Math.max(0, col - 1))}^`;
  return { message: `ERROR: <input>:${line}:${col}: ${message}\n | ${text}\n | ${caret}`, offset };
}

function fromCelError(source: string, e: unknown, family: Family): CelCompileError {
  if (!(e instanceof Error)) return report(source, 0, String(e));
  const err = e as Error & { summary?: string; range?: { start: number }; code?: string };
  let summary = (err.summary ?? firstLine(err.message)).replaceAll(RE2_MATCHES_FN, "matches");
  const offset = err.range?.start ?? 0;
  if (err.name === "ParseError") summary = `Syntax error: ${summary}`;
  if (err.code === "unknown_variable") {
    const name = summary.replace(/^Unknown variable:\s*/, "");
    const other = Object.keys(VARIABLE_SCHEMAS).includes(name) && !["op", "agent", "now"].includes(name);
    summary = other
      ? `undeclared reference to '${name}': this rule's endpoints are of the ${family} family, so its condition reads ${family}.* (plus op, agent, now), not ${name}.*`
      : `undeclared reference to '${name}'`;
  }
  return report(source, offset, summary);
}
