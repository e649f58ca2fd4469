/**
 * RE2 semantics for CEL's `matches`.
 *
 * CEL specifies RE2: linear-time matching, no backreferences, no lookaround,
 * inline flags such as `(?i)` and `(?s)`. JavaScript's RegExp is none of those
 * (it backtracks, so a hostile pattern or input can hang the gateway, and it
 * rejects `(?i)`), so every `matches` call in a rule goes through this module.
 * Patterns written as literals are compiled once when the policy loads — an
 * invalid pattern is a load error at the rule, not a runtime surprise.
 */
import { RE2JS } from "@bufbuild/re2";
import { admits, foldNormalize, literalCondition, type LiteralCondition } from "./re2-prefilter.js";

/** A compiled RE2 pattern with an unanchored `test`, as CEL's `matches` needs. */
export interface Re2Pattern {
  test(input: string): boolean;
}

/** Why a pattern is not valid RE2, or undefined when it is. */
export function re2Error(pattern: string): string | undefined {
  try {
    new RE2JS(pattern);
    return undefined;
  } catch (e) {
    return explain(pattern, e instanceof Error ? e.message : String(e));
  }
}

/** Adds the RE2 rationale for constructs people bring from PCRE / JavaScript. */
function explain(pattern: string, message: string): string {
  if (/\\[1-9]/.test(pattern)) {
    return `${message} (backreferences are not supported: rules use RE2, which matches in linear time)`;
  }
  if (/\(\?<?[=!]/.test(pattern)) {
    return `${message} (lookahead/lookbehind are not supported: rules use RE2, which matches in linear time)`;
  }
  return message;
}

const MAX_DYNAMIC_PATTERNS = 256;

/**
 * A compiled pattern plus the literals, prefixes and suffixes a match requires
 * (see re2-prefilter.ts). Checking them with `includes`/`startsWith`/`endsWith`
 * rejects most non-matching inputs without running RE2JS, whose own literal
 * prefilter skips `(?i)` patterns and costs more even when it rejects.
 */
class Compiled implements Re2Pattern {
  constructor(
    private readonly re: RE2JS,
    private readonly cond: LiteralCondition | undefined,
    private readonly normalize: (input: string) => string,
  ) {}

  test(input: string): boolean {
    const cond = this.cond;
    if (cond !== undefined && !admits(cond, cond.fold ? this.normalize(input) : input)) return false;
    return this.re.test(input);
  }
}

function compile(pattern: string, normalize: (input: string) => string): Compiled {
  const re = new RE2JS(pattern);
  return new Compiled(re, literalCondition(pattern), normalize);
}

/**
 * Compiles and caches patterns. Literal patterns from rules are compiled at
 * load; patterns computed at evaluation time are cached in a small bounded map
 * so a rule like `http.path.matches(http.query.re[0])` cannot grow memory.
 */
export class Re2Cache {
  readonly #fixed = new Map<string, Re2Pattern>();
  readonly #dynamic = new Map<string, Re2Pattern>();
  /** One-entry memo of `foldNormalize` for `(?i)` patterns: a decision tests the same input against many. */
  #lastInput: string | undefined;
  #lastNormalized = "";
  readonly #normalize = (input: string): string => {
    if (input !== this.#lastInput) {
      this.#lastNormalized = foldNormalize(input);
      this.#lastInput = input;
    }
    return this.#lastNormalized;
  };

  /** Compiles a pattern known at load time; throws when it is not valid RE2. */
  precompile(pattern: string): Re2Pattern {
    let re = this.#fixed.get(pattern);
    if (!re) {
      re = compile(pattern, this.#normalize);
      this.#fixed.set(pattern, re);
    }
    return re;
  }

  /** Returns a compiled pattern, compiling (and caching, bounded) on first use. */
  get(pattern: string): Re2Pattern {
    const fixed = this.#fixed.get(pattern);
    if (fixed) return fixed;
    let re = this.#dynamic.get(pattern);
    if (!re) {
      const err = re2Error(pattern);
      if (err !== undefined) throw new Error(`invalid regular expression: ${err}`);
      re = compile(pattern, this.#normalize);
      if (this.#dynamic.size >= MAX_DYNAMIC_PATTERNS) this.#dynamic.clear();
      this.#dynamic.set(pattern, re);
    }
    return re;
  }

  /** CEL `matches`: true when the pattern matches anywhere in the input. */
  matches(input: string, pattern: string): boolean {
    return this.get(pattern).test(input);
  }
}
