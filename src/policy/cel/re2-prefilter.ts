/**
 * Literal prefilter for RE2 patterns.
 *
 * Rule conditions such as `http.path.matches('^/v2/things/[0-9]+/4$')` run
 * on every request. `@bufbuild/re2` has a literal prefilter of its own, but
 * it skips it for `(?i)` patterns, and across a mixed rule set a call costs
 * ~0.2 µs even when it rejects (~1 µs when it runs its DFA, and more for
 * `(?i)`). This module reads the pattern's source text and derives
 * a condition that every matching input satisfies. An input that fails it
 * cannot match, so `Re2Cache` answers false after a few plain string
 * operations, without running the engine.
 *
 * The condition is checked on a normalized text N(input). Under a leading
 * `(?i…)` flag group ("fold mode") N is `foldNormalize` and the condition's
 * strings are lower-case ASCII. For every other pattern ("case-sensitive
 * mode") N is the identity and the strings are ASCII as written. It has three
 * parts, each of which may be absent:
 *   - required: an AND of ORs; for every term, N(input) contains one string;
 *   - prefixes: N(input) starts with one of these strings;
 *   - suffixes: N(input) ends with one of these strings.
 *
 * Literal characters. The scanner gives up (no condition at all) on any
 * construct it does not fully understand, including non-ASCII literal
 * characters and any flag group other than the one leading group. In
 * case-sensitive mode an ASCII literal character matches exactly that code
 * point, which is one UTF-16 code unit of the input. In fold mode it matches
 * exactly one input character in its simple case-fold orbit, and
 * `foldNormalize` maps every member of that orbit to the lower-case letter:
 * {x, X} -> x for each letter, plus U+212A KELVIN SIGN -> k and U+017F LONG S
 * -> s. Non-letters have no other orbit members. A test scans every BMP code
 * point to check these orbit facts against RE2JS itself.
 *
 * N works one code point at a time: N(input) is the concatenation, in order,
 * of one image per input code point, and the image of every code point a
 * literal can match is fixed whatever its neighbours are (the only
 * context-dependent mapping of `toLowerCase` is the Greek final sigma, which
 * changes nothing but that sigma's own image). So when input = u·x·v and x
 * is matched by a run of literal characters spelling s, N(input) = u'·s·v'
 * for some strings u' and v' (u' empty when u is, v' empty when v is): a
 * substring of the input maps to a substring of N(input), a prefix to a
 * prefix and a suffix to a suffix. Other characters (İ becomes "i̇") may add
 * ASCII letters to N(input); that can only make a condition hold more often.
 *
 * Why the required literals are sound. Each piece of the pattern gets either
 * an "exact" set (a finite set of ASCII strings such that whatever that piece
 * matches, once normalized, is one of them) or nothing. The text a
 * concatenation matches is the concatenation of its pieces' texts, so its
 * normalized form lies in the cross product of the pieces' exact sets, and an
 * alternation's text lies in the union of its branches' sets. The matched
 * text is a substring of the input, so the normalized input contains one
 * string of every exact set built from consecutive pieces (a "run"). Anything
 * else ends the run and adds no string of its own: `.`, classes, class
 * escapes, zero-width assertions, and quantifiers. A piece under `+` or
 * `{n,…}` with n >= 1 keeps its own requirements because it matches at least
 * once, and a piece under `?`, `*` or `{0,…}` keeps none. An alternation that
 * is not all literal needs one term from each branch; the union of those
 * terms holds whichever branch matched. Only whole OR-sets are ever dropped,
 * and never a single string from inside one, so each emitted term is implied
 * by a match. A run that would grow past MAX_SET strings is cut in two, which
 * only weakens it.
 *
 * Why the anchors are sound. They come only from the top level: the pattern's
 * own alternation, whose branches are concatenations of pieces. A match of
 * the pattern is a match of one branch, and a branch's match is the
 * concatenation of its pieces' matches, consecutive in the input. Without the
 * `m` flag RE2's `^` matches only at the start of the text and `$` only at
 * its end (`$` is not Perl's "or before a final newline"; a test checks this
 * against RE2JS), and `\A` and `\z` mean the same whatever the flags. Under
 * `m`, `^` and `$` match at line boundaries and are not anchors here. Only a
 * top-level piece that is itself one of these, unquantified, counts: `^*` may
 * match anywhere, and groups such as `(^)` or `(?:^a|b)` are not looked into.
 * When a branch's first piece is a start anchor, its match begins at offset 0,
 * so the input begins with the text the following pieces match. Take the
 * consecutive pieces after the anchor that have exact sets, up to the first
 * piece that has none (a quantified piece, a class, a group that is not all
 * literal, ...), stopping early rather than growing past MAX_SET: the text
 * they match is a prefix of the input and lies, normalized, in the cross
 * product of their exact sets, so by the prefix property of N the normalized
 * input starts with one of those strings. A branch ending in an end anchor is
 * the mirror image. With several top-level branches each must give a set, and
 * their union holds whichever branch matched. A set containing the empty
 * string requires nothing and is dropped.
 *
 * Tidying, which never weakens the condition. When all strings of a term
 * share a common prefix or suffix of length >= MIN_LITERAL, that affix is
 * added as a term of its own (a text containing one of the strings contains
 * it), so most inputs are rejected by one `includes`. A term is dropped when
 * the strings of another kept term, or of the prefix or suffix set, each
 * contain one of its strings, since that set then implies it.
 */

import { cross, dedup, GiveUp, MAX_SET, MIN_LITERAL, minLength, Scanner, type Info, type Side } from "./re2-scanner.js";

/** AND of ORs: the normalized input must contain, for every term, one of its strings. */
export type RequiredLiterals = readonly (readonly string[])[];

/** What every input a pattern matches satisfies (see the comment above). */
export interface LiteralCondition {
  /** Check `foldNormalize(input)` (a `(?i)` pattern) rather than the input itself. */
  readonly fold: boolean;
  /** Possibly empty. */
  readonly required: RequiredLiterals;
  /** The normalized input starts with one of these (undefined: no requirement). */
  readonly prefixes: readonly string[] | undefined;
  /** The normalized input ends with one of these (undefined: no requirement). */
  readonly suffixes: readonly string[] | undefined;
}

/**
 * Strings one of which the normalized input must start (`side` "start") or
 * end with, from one top-level branch's pieces; undefined: no requirement.
 */
function anchoredRun(pieces: readonly Info[], side: Side): readonly string[] | undefined {
  const n = pieces.length;
  const at = (k: number): Info => pieces[side === "start" ? k : n - 1 - k]!;
  if (n === 0 || at(0).anchor !== side) return undefined;
  let run: readonly string[] = [""];
  for (let k = 1; k < n; k++) {
    const exact = at(k).exact;
    if (exact === null) break;
    const joined = side === "start" ? cross(run, exact) : cross(exact, run);
    if (joined === null) break; // stop early rather than grow past MAX_SET
    run = joined;
  }
  return run.includes("") ? undefined : run;
}

/** The union over top-level branches; each must have a set. */
function anchoredSet(branches: readonly (readonly Info[])[], side: Side): string[] | undefined {
  const union: string[] = [];
  for (const pieces of branches) {
    const run = anchoredRun(pieces, side);
    if (run === undefined) return undefined;
    union.push(...run);
  }
  const set = dedup(union).sort();
  return set.length <= MAX_SET ? set : undefined;
}

/** Whether a text containing one of `set` (e.g. as its prefix) must contain one of `term`. */
function implies(set: readonly string[] | undefined, term: readonly string[]): boolean {
  return set !== undefined && set.every((a) => term.some((t) => a.includes(t)));
}

/** The longer of the strings' longest common prefix and suffix: each string contains it. */
function sharedAffix(set: readonly string[]): string {
  let pre = set[0]!;
  let suf = set[0]!;
  for (const s of set) {
    let i = 0;
    while (i < pre.length && pre[i] === s[i]) i++;
    pre = pre.slice(0, i);
    let j = 0;
    while (j < suf.length && j < s.length && suf[suf.length - 1 - j] === s[s.length - 1 - j]) j++;
    suf = suf.slice(suf.length - j);
  }
  return pre.length >= suf.length ? pre : suf;
}

/**
 * The literal condition of a pattern, or undefined when the scanner gives up
 * or nothing useful is required. Patterns under a leading flag group with `i`
 * are handled in fold mode, all others case-sensitively. Meant for patterns
 * RE2 has already accepted.
 */
export function literalCondition(pattern: string): LiteralCondition | undefined {
  const lead = /^\(\?([imsU]+)\)/.exec(pattern);
  const flags = lead?.[1] ?? "";
  const fold = flags.includes("i");
  let scanned: { info: Info; branches: Info[][] };
  try {
    scanned = new Scanner(pattern, lead?.[0].length ?? 0, fold, flags.includes("m")).run();
  } catch (e) {
    if (e instanceof GiveUp) return undefined;
    throw e;
  }
  const prefixes = anchoredSet(scanned.branches, "start");
  const suffixes = anchoredSet(scanned.branches, "end");
  const candidates: string[][] = [];
  for (const t of scanned.info.terms) {
    const term = dedup(t).sort();
    const shared = term.length > 1 ? sharedAffix(term) : "";
    if (shared.length >= MIN_LITERAL) candidates.push([shared]); // one cheap check first
    candidates.push(term);
  }
  // Cheapest first: fewest strings, then the longest shortest string.
  candidates.sort((a, b) => a.length - b.length || minLength(b) - minLength(a));
  const required: string[][] = [];
  for (const term of candidates) {
    if (implies(prefixes, term) || implies(suffixes, term) || required.some((k) => implies(k, term))) continue;
    required.push(term);
  }
  if (required.length === 0 && prefixes === undefined && suffixes === undefined) return undefined;
  return { fold, required, prefixes, suffixes };
}

/**
 * Maps an input so that every character RE2's `(?i)` folds to an ASCII letter
 * becomes that lower-case letter: `toLowerCase` handles A–Z and U+212A KELVIN
 * SIGN; U+017F LATIN SMALL LETTER LONG S is mapped to `s` here.
 */
export function foldNormalize(input: string): string {
  const lower = input.toLowerCase();
  return lower.includes("\u017f") ? lower.replaceAll("\u017f", "s") : lower;
}

/** Whether a normalized input satisfies the required literals (a false answer proves no match). */
export function satisfies(cond: RequiredLiterals, normalized: string): boolean {
  for (const term of cond) {
    let any = false;
    for (const s of term) {
      if (normalized.includes(s)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  return true;
}

/** Whether a normalized input satisfies the whole condition (a false answer proves no match). */
export function admits(cond: LiteralCondition, normalized: string): boolean {
  if (cond.prefixes !== undefined && !startsWithAny(normalized, cond.prefixes)) return false;
  if (cond.suffixes !== undefined && !endsWithAny(normalized, cond.suffixes)) return false;
  return satisfies(cond.required, normalized);
}

function startsWithAny(text: string, set: readonly string[]): boolean {
  for (const s of set) if (text.startsWith(s)) return true;
  return false;
}

function endsWithAny(text: string, set: readonly string[]): boolean {
  for (const s of set) if (text.endsWith(s)) return true;
  return false;
}
