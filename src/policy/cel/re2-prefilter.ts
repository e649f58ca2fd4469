/**
 * Required-literal prefilter for case-insensitive RE2 patterns.
 *
 * `@bufbuild/re2` rejects most non-matching inputs cheaply when a pattern has
 * a case-sensitive literal, but it skips that prefilter for `(?i)` patterns,
 * which then cost microseconds per SQL statement. This module reads the
 * pattern's source text and derives a condition that every matching input
 * must satisfy: an AND of ORs of lower-case ASCII strings. An input that
 * fails the condition cannot match, so `Re2Cache` answers false without
 * running the engine.
 *
 * Why this is sound. The scanner only accepts a pattern whose whole body is
 * under a leading `(?i…)` group. It gives up (no condition) on any construct
 * it does not fully understand. Each piece of the pattern gets
 * either an "exact" set (a finite set of lower-case ASCII strings such that
 * whatever that piece matches, once fold-normalized, is one of them) or
 * nothing. A lone ASCII literal character matches exactly one input character
 * in its simple case-fold orbit, and `foldNormalize` maps every member of
 * that orbit to the lower-case letter: {x, X} -> x for each letter, plus
 * U+212A KELVIN SIGN -> k and U+017F LONG S -> s. Non-letters have no other
 * orbit members. A test scans every BMP code point to check these orbit
 * facts against RE2JS itself. Normalization works one code point at a time
 * (whatever else it does to other characters), so it preserves
 * concatenation. The normalized text a concatenation matches is therefore
 * the concatenation of its pieces' normalized texts. This text lies in the
 * cross product of the pieces' exact sets, and an alternation's text lies in
 * the union of its branches' sets. The matched text is a substring of the
 * input, so its normalized form is a substring of the normalized input. So
 * the normalized input contains one string of every exact set built from
 * consecutive pieces (a "run"). Anything else ends the run and adds no string
 * of its own: `.`, classes, class escapes, zero-width assertions, and
 * quantifiers. A piece under `+` or `{n,…}` with n >= 1 keeps its own
 * requirements because it matches at least once, and a piece under `?`, `*`
 * or `{0,…}` keeps none. An alternation that is not all literal needs one
 * term from each branch; the union of those terms holds whichever branch
 * matched. Only whole OR-sets are ever dropped, and never a single string
 * from inside one, so each emitted term is implied by a match.
 */

/** AND of ORs: the normalized input must contain, for every term, one of its strings. */
export type RequiredLiterals = readonly (readonly string[])[];

/** Literals shorter than this rarely filter anything; terms containing one are dropped. */
const MIN_LITERAL = 2;
/** Bound on the strings in one exact set / OR term (cross products and unions). */
const MAX_SET = 64;
/** Bound on group nesting the scanner follows before giving up. */
const MAX_DEPTH = 100;

/** Thrown inside the scanner when it meets something it does not fully understand. */
class GiveUp extends Error {}

interface Info {
  /** Every match of this piece, fold-normalized, is one of these strings (null: unknown). */
  readonly exact: readonly string[] | null;
  /** Requirements (AND of ORs) on the normalized text this piece matches. */
  readonly terms: readonly (readonly string[])[];
}

/** Matches something unknown: ends a literal run, requires nothing. */
const NOTHING: Info = { exact: null, terms: [] };

function minLength(set: readonly string[]): number {
  let m = Infinity;
  for (const s of set) if (s.length < m) m = s.length;
  return m;
}

function qualifies(set: readonly string[]): boolean {
  return set.length > 0 && minLength(set) >= MIN_LITERAL;
}

function exactInfo(set: readonly string[]): Info {
  return { exact: set, terms: qualifies(set) ? [set] : [] };
}

function dedup(set: readonly string[]): string[] {
  return [...new Set(set)];
}

function cross(a: readonly string[], b: readonly string[]): string[] | null {
  if (a.length * b.length > MAX_SET) return null;
  const out: string[] = [];
  for (const x of a) for (const y of b) out.push(x + y);
  return dedup(out);
}

function concat(items: readonly Info[]): Info {
  const terms: (readonly string[])[] = [];
  let run: readonly string[] = [""];
  let allExact = true;
  const flush = (): void => {
    if (qualifies(run)) terms.push(run);
    run = [""];
  };
  for (const item of items) {
    if (item.exact !== null) {
      const joined = cross(run, item.exact);
      if (joined === null) {
        // Too many combinations: end the run here and start a new one.
        flush();
        run = item.exact;
        allExact = false;
      } else {
        run = joined;
      }
    } else {
      flush();
      terms.push(...item.terms);
      allExact = false;
    }
  }
  if (allExact) return exactInfo(run);
  flush();
  return { exact: null, terms };
}

/** The most selective term: longest shortest string, then fewest strings. */
function bestTerm(terms: readonly (readonly string[])[]): readonly string[] | undefined {
  let best: readonly string[] | undefined;
  for (const t of terms) {
    if (
      best === undefined ||
      minLength(t) > minLength(best) ||
      (minLength(t) === minLength(best) && t.length < best.length)
    ) {
      best = t;
    }
  }
  return best;
}

function alternate(branches: readonly Info[]): Info {
  if (branches.length === 1) return branches[0]!;
  if (branches.every((b) => b.exact !== null)) {
    const union = dedup(branches.flatMap((b) => b.exact!));
    if (union.length <= MAX_SET) return exactInfo(union);
  }
  // Whichever branch matched satisfies its own terms, so the union of one
  // term per branch is required. A branch without terms voids that.
  const union: string[] = [];
  for (const b of branches) {
    const t = bestTerm(b.terms);
    if (t === undefined) return NOTHING;
    union.push(...t);
  }
  const set = dedup(union);
  return set.length <= MAX_SET && qualifies(set) ? { exact: null, terms: [set] } : NOTHING;
}

const isOctal = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "7";
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9A-Fa-f]$/.test(c);
const isAsciiAlnum = (c: string): boolean => /^[0-9A-Za-z]$/.test(c);

const CONTROL_ESCAPES: Readonly<Record<string, string>> = {
  a: "\x07",
  f: "\x0c",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\x0b",
};

/** One pass over the pattern source, mirroring RE2's parser closely enough to be sound. */
class Scanner {
  #pos: number;
  #depth = 0;

  constructor(
    private readonly src: string,
    start: number,
  ) {
    this.#pos = start;
  }

  run(): Info {
    const info = this.#alternation();
    if (this.#pos !== this.src.length) throw new GiveUp(); // stray ')'
    return info;
  }

  #alternation(): Info {
    const branches = [this.#concatenation()];
    while (this.src[this.#pos] === "|") {
      this.#pos++;
      branches.push(this.#concatenation());
    }
    return alternate(branches);
  }

  #concatenation(): Info {
    const items: Info[] = [];
    for (;;) {
      const c = this.src[this.#pos];
      if (c === undefined || c === "|" || c === ")") break;
      items.push(this.#quantified(this.#atom()));
    }
    return concat(items);
  }

  /** Applies a following quantifier, if any, to the atom just parsed. */
  #quantified(atom: Info): Info {
    const c = this.src[this.#pos];
    let atLeastOnce: boolean;
    if (c === "*" || c === "?") {
      this.#pos++;
      atLeastOnce = false;
    } else if (c === "+") {
      this.#pos++;
      atLeastOnce = true;
    } else if (c === "{") {
      // RE2's repeat syntax: {n}, {n,} or {n,m}, decimal without leading zeros.
      const m = /\{(0|[1-9]\d*)(?:,(?:0|[1-9]\d*)?)?\}/y;
      m.lastIndex = this.#pos;
      const r = m.exec(this.src);
      // A '{' that is not a repeat is a literal in RE2; rare enough to give up.
      if (!r) throw new GiveUp();
      this.#pos += r[0].length;
      atLeastOnce = Number(r[1]) >= 1;
    } else {
      return atom;
    }
    if (this.src[this.#pos] === "?") this.#pos++; // lazy form
    const next = this.src[this.#pos];
    if (next === "*" || next === "+" || next === "?" || next === "{") throw new GiveUp();
    return atLeastOnce ? { exact: null, terms: atom.terms } : NOTHING;
  }

  #atom(): Info {
    const src = this.src;
    const c = src[this.#pos]!;
    switch (c) {
      case "(":
        return this.#group();
      case "[":
        this.#pos = this.#classEnd(this.#pos);
        return NOTHING;
      case ".":
      case "^":
      case "$":
        this.#pos++;
        return NOTHING;
      case "\\":
        return this.#escape();
      case "*":
      case "+":
      case "?":
      case "{":
        throw new GiveUp(); // missing repeat argument, or a literal '{'
      default:
        if (c.charCodeAt(0) > 0x7f) throw new GiveUp();
        this.#pos++;
        return exactInfo([c.toLowerCase()]);
    }
  }

  #group(): Info {
    const src = this.src;
    if (src.startsWith("(?:", this.#pos)) {
      this.#pos += 3;
    } else if (src.startsWith("(?P<", this.#pos) || src.startsWith("(?<", this.#pos)) {
      const begin = this.#pos + (src[this.#pos + 2] === "P" ? 4 : 3);
      const end = src.indexOf(">", begin);
      if (end < 0 || !/^[A-Za-z0-9_]+$/.test(src.slice(begin, end))) throw new GiveUp();
      this.#pos = end + 1;
    } else if (src.startsWith("(?", this.#pos)) {
      throw new GiveUp(); // inline flags inside the pattern, or unsupported syntax
    } else {
      this.#pos++;
    }
    if (++this.#depth > MAX_DEPTH) throw new GiveUp();
    const inner = this.#alternation();
    this.#depth--;
    if (src[this.#pos] !== ")") throw new GiveUp();
    this.#pos++;
    return inner;
  }

  /** An escape outside a class. */
  #escape(): Info {
    const src = this.src;
    const n = src[this.#pos + 1];
    switch (n) {
      case "A":
      case "b":
      case "B":
      case "z":
        this.#pos += 2;
        return NOTHING; // zero-width
      case "p":
      case "P":
        this.#pos = this.#unicodeClassEnd(this.#pos);
        return NOTHING;
      case "d":
      case "D":
      case "s":
      case "S":
      case "w":
      case "W":
        this.#pos += 2;
        return NOTHING;
      default: {
        const { end, literal } = this.#plainEscape(this.#pos);
        this.#pos = end;
        return literal === undefined ? NOTHING : exactInfo([literal.toLowerCase()]);
      }
    }
  }

  /**
   * A single-character escape at `i` (on the backslash), as RE2's parseEscape
   * reads it. Returns the end index and, for ASCII characters that stand for
   * themselves, the character. Octal and hex escapes are skipped exactly and
   * contribute nothing.
   */
  #plainEscape(i: number): { end: number; literal?: string } {
    const src = this.src;
    const c = src[i + 1];
    if (c === undefined) throw new GiveUp();
    if (c >= "0" && c <= "7") {
      if (c !== "0" && !isOctal(src[i + 2])) throw new GiveUp(); // backreference
      let j = i + 2;
      for (let k = 1; k < 3 && isOctal(src[j]); k++) j++;
      return { end: j };
    }
    if (c === "x") {
      if (src[i + 2] === "{") {
        const close = src.indexOf("}", i + 3);
        if (close <= i + 3) throw new GiveUp();
        for (let j = i + 3; j < close; j++) if (!isHex(src[j])) throw new GiveUp();
        return { end: close + 1 };
      }
      if (!isHex(src[i + 2]) || !isHex(src[i + 3])) throw new GiveUp();
      return { end: i + 4 };
    }
    const control = CONTROL_ESCAPES[c];
    if (control !== undefined) return { end: i + 2, literal: control };
    if (c.charCodeAt(0) <= 0x7f && !isAsciiAlnum(c)) return { end: i + 2, literal: c };
    throw new GiveUp(); // \Q…\E, \C, \Z, unknown letters, non-ASCII
  }

  /** `\pL`, `\p{Greek}`, `\P{^Han}` at `i`: returns the index after it. */
  #unicodeClassEnd(i: number): number {
    const src = this.src;
    const c = src[i + 2];
    if (c === undefined) throw new GiveUp();
    if (c === "{") {
      const close = src.indexOf("}", i + 3);
      if (close < 0) throw new GiveUp();
      return close + 1;
    }
    if (c.charCodeAt(0) > 0x7f) throw new GiveUp();
    return i + 3;
  }

  /** A character class starting at `i` (on '['): returns the index after its ']'. */
  #classEnd(i: number): number {
    const src = this.src;
    i++;
    if (src[i] === "^") i++;
    let first = true; // ']' is a literal as the first class character
    for (;;) {
      const c = src[i];
      if (c === undefined) throw new GiveUp();
      if (c === "]" && !first) return i + 1;
      first = false;
      if (src.startsWith("[:", i)) {
        const close = src.indexOf(":]", i + 1);
        if (close >= 0) {
          i = close + 2; // POSIX class such as [:alpha:]
          continue;
        }
      }
      if (c === "\\" && (src[i + 1] === "p" || src[i + 1] === "P")) {
        i = this.#unicodeClassEnd(i);
        continue;
      }
      if (c === "\\" && src[i + 1] !== undefined && "dDsSwW".includes(src[i + 1]!)) {
        i += 2;
        continue;
      }
      i = this.#classCharEnd(i);
      if (src[i] === "-" && src[i + 1] !== undefined && src[i + 1] !== "]") {
        i = this.#classCharEnd(i + 1);
      }
    }
  }

  #classCharEnd(i: number): number {
    const src = this.src;
    if (src[i] === "\\") return this.#plainEscape(i).end;
    const code = src.charCodeAt(i);
    if (Number.isNaN(code)) throw new GiveUp();
    // Step over a whole surrogate pair so its halves are not read as characters.
    if (code >= 0xd800 && code <= 0xdbff) {
      const low = src.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) return i + 2;
    }
    return i + 1;
  }
}

/**
 * The required-literal condition of a case-insensitive pattern, or undefined
 * when the pattern is not folded by a leading flag group, the scanner gives up,
 * or nothing useful is required. Meant for patterns RE2 has already accepted.
 */
export function foldPrefilter(pattern: string): RequiredLiterals | undefined {
  const flags = /^\(\?([imsU]+)\)/.exec(pattern);
  if (!flags || !flags[1]!.includes("i")) return undefined;
  let info: Info;
  try {
    info = new Scanner(pattern, flags[0].length).run();
  } catch (e) {
    if (e instanceof GiveUp) return undefined;
    throw e;
  }
  const seen = new Set<string>();
  const terms: string[][] = [];
  for (const t of info.terms) {
    const term = dedup(t).sort();
    const key = JSON.stringify(term);
    if (seen.has(key)) continue;
    seen.add(key);
    terms.push(term);
  }
  if (terms.length === 0) return undefined;
  // Check the most selective terms first.
  terms.sort((a, b) => minLength(b) - minLength(a) || a.length - b.length);
  return terms;
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

/** Whether a fold-normalized input satisfies the condition (a false answer proves no match). */
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
