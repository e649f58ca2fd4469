/**
 * The scanner behind the RE2 literal prefilter (./re2-prefilter.ts): one pass
 * over a pattern's source that gives each piece either the exact set of
 * strings it can match (normalized) or "unknown", and collects the required
 * literal terms — giving up on anything it does not fully understand. The
 * soundness argument is in re2-prefilter.ts.
 */

/** Literals shorter than this rarely filter anything; terms containing one are dropped. */
export const MIN_LITERAL = 2;
/** Bound on the strings in one exact set / OR term (cross products and unions). */
export const MAX_SET = 64;
/** Bound on group nesting the scanner follows before giving up. */
const MAX_DEPTH = 100;

/** Thrown inside the scanner when it meets something it does not fully understand. */
export class GiveUp extends Error {}

export interface Info {
  /** Every match of this piece, normalized, is one of these strings (null: unknown). */
  readonly exact: readonly string[] | null;
  /** Requirements (AND of ORs) on the normalized text this piece matches. */
  readonly terms: readonly (readonly string[])[];
  /** Set only on an unquantified `^`/`$` without `m`, or `\A`/`\z`: matches only there. */
  readonly anchor?: Side;
}

export type Side = "start" | "end";

/** Matches something unknown: ends a literal run, requires nothing. */
const NOTHING: Info = { exact: null, terms: [] };
const TEXT_START: Info = { exact: null, terms: [], anchor: "start" };
const TEXT_END: Info = { exact: null, terms: [], anchor: "end" };

export function minLength(set: readonly string[]): number {
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

export function dedup(set: readonly string[]): string[] {
  return [...new Set(set)];
}

export function cross(a: readonly string[], b: readonly string[]): string[] | null {
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

const CONTROL_ESCAPES: Readonly<Record<string, string>> = { a: "\x07", f: "\x0c", n: "\n", r: "\r", t: "\t", v: "\x0b" };

/** One pass over the pattern source, mirroring RE2's parser closely enough to be sound. */
export class Scanner {
  #pos: number;
  #depth = 0;

  constructor(
    private readonly src: string,
    start: number,
    /** `(?i)`: literals are lower-cased, matching `foldNormalize`. */
    private readonly fold: boolean,
    /** `(?m)`: `^` and `$` match at line boundaries, so they are not anchors. */
    private readonly multiline: boolean,
  ) {
    this.#pos = start;
  }

  /** The whole pattern, and the pieces of each top-level branch (for anchors). */
  run(): { info: Info; branches: Info[][] } {
    const branches = this.#branches();
    if (this.#pos !== this.src.length) throw new GiveUp(); // stray ')'
    return { info: alternate(branches.map(concat)), branches };
  }

  #alternation(): Info {
    return alternate(this.#branches().map(concat));
  }

  /** The pieces of each branch of an alternation. */
  #branches(): Info[][] {
    const branches = [this.#pieces()];
    while (this.src[this.#pos] === "|") {
      this.#pos++;
      branches.push(this.#pieces());
    }
    return branches;
  }

  #pieces(): Info[] {
    const items: Info[] = [];
    for (;;) {
      const c = this.src[this.#pos];
      if (c === undefined || c === "|" || c === ")") break;
      items.push(this.#quantified(this.#atom()));
    }
    return items;
  }

  #literal(c: string): Info {
    return exactInfo([this.fold ? c.toLowerCase() : c]);
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
        this.#pos++;
        return NOTHING;
      case "^":
        this.#pos++;
        return this.multiline ? NOTHING : TEXT_START;
      case "$":
        this.#pos++;
        return this.multiline ? NOTHING : TEXT_END;
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
        return this.#literal(c);
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
        this.#pos += 2;
        return TEXT_START; // whatever the flags
      case "z":
        this.#pos += 2;
        return TEXT_END;
      case "b":
      case "B":
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
        return literal === undefined ? NOTHING : this.#literal(literal);
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

