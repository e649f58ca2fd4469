import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RE2JS } from "@bufbuild/re2";
import { admits, foldNormalize, literalCondition } from "./re2-prefilter.js";
import { Re2Cache, type Re2Pattern } from "./re2.js";
import { prng } from "../../testing/prng.js";

const SECRET_WORDS = "(?i)\\b(secret|password|token|api_key|private_key|access_key|signing_secret)\\b";

const sortTerms = (ts: readonly (readonly string[])[]): string[][] =>
  ts.map((t) => [...t].sort()).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

/** The required literals as sorted terms of sorted strings, or undefined when there is no condition. */
function cond(pattern: string): string[][] | undefined {
  const c = literalCondition(pattern);
  return c === undefined ? undefined : sortTerms(c.required);
}

function terms(...ts: string[][]): string[][] {
  return sortTerms(ts);
}

describe("literalCondition: required literals", () => {
  const cases: [string, string[][] | undefined][] = [
    // real-world policy patterns
    [SECRET_WORDS, terms(["secret", "password", "token", "api_key", "private_key", "access_key", "signing_secret"])],
    ["(?is)copy.*to program", terms(["copy"], ["to program"])],
    ["(?i)\\bcol_3\\b", terms(["col_3"])],
    ["(?i)col_3", terms(["col_3"])],
    // leading flag groups
    ["(?si)Drop Table", terms(["drop table"])],
    ["(?im)^grant\\s+all$", terms(["grant"], ["all"])],
    // case-sensitive patterns: literals as written, checked on the raw input
    ["secret", terms(["secret"])],
    ["(?s)Secret", terms(["Secret"])],
    ["(?m)^secret", terms(["secret"])],
    ["(?U)Abc+De", terms(["Ab"], ["De"])],
    ["AbC|abc", terms(["AbC", "abc"])],
    ["(?i)AbC|abc", terms(["abc"])],
    ["api_key=[A-Za-z0-9]{20,}", terms(["api_key="])],
    ["X-Api-Key:\\s*\\S", terms(["X-Api-Key:"])],
    ["caf\u00e9", undefined], // non-ASCII literal: give up in both modes
    ["ab\\x{e9}cd", terms(["ab"], ["cd"])], // escapes contribute nothing
    // quantifiers: the quantified atom breaks the run
    ["(?i)ab?c", undefined], // "a" and "c" separately (too short), never "abc"
    ["(?i)xab?cy", terms(["xa"], ["cy"])],
    ["(?i)abx?cd", terms(["ab"], ["cd"])],
    ["(?i)abc*de", terms(["ab"], ["de"])],
    ["(?i)ab(cd)+ef", terms(["ab"], ["cd"], ["ef"])],
    ["(?i)ab(cd)*ef", terms(["ab"], ["ef"])],
    ["(?i)ab(cd){0,3}ef", terms(["ab"], ["ef"])],
    ["(?i)ab(cd){2,3}?ef", terms(["ab"], ["cd"], ["ef"])],
    ["(?i)(abc)??de", terms(["de"])],
    ["Ab(Cd)+eF", terms(["Ab"], ["Cd"], ["eF"])],
    // escapes, classes, dot
    ["(?i)api\\.example\\.com", terms(["api.example.com"])],
    ["(?i)x\\-y\\\\z", terms(["x-y\\z"])],
    ["(?i)user\\d+_id", terms(["user"], ["_id"])],
    ["(?i)[]a]xy[^\\]]zz", terms(["xy"], ["zz"])],
    ["(?i)foo[[:alpha:]]bar\\p{Greek}baz\\pLqux", terms(["foo"], ["bar"], ["baz"], ["qux"])],
    ["(?i)ab\\x41cd\\101ef", terms(["ab"], ["cd"], ["ef"])],
    ["a\\tb\\nc", terms(["a\tb\nc"])],
    // groups and alternation
    ["(?i)(?:select|update)\\s", terms(["select", "update"])],
    ["(?i)(?P<verb>grant|revoke) all", terms([" all"], ["grant all", "revoke all"])],
    ["(?i)(?<t>ab|cd)(ef|gh)", terms(["abef", "abgh", "cdef", "cdgh"])],
    ["(?i)drop|truncate", terms(["drop", "truncate"])],
    ["(?i)drop.*table|truncate", terms(["table", "truncate"])], // one term per branch, the longest
    ["(?i)drop|x", undefined], // one branch is a single character
    ["(?i)(drop|)table", terms(["table"])], // the shared suffix implies the OR-term
    ["/admin/(users|roles)", terms(["/admin/"], ["/admin/users", "/admin/roles"])], // shared prefix checked first
    ["(?i)\\.(a|b)\\.", terms([".a.", ".b."])], // short pieces joined into a run
    // give up
    ["(?i)\\Qsecret\\E", undefined],
    ["\\Qsecret\\E", undefined],
    ["(?i)sec(?-i)ret", undefined],
    ["sec(?i)ret", undefined],
    ["(?i)(?s:secret)", undefined],
    ["(?i)(?i)secret", undefined],
    ["(?i)s\u00e9cret", undefined],
    ["(?i)ab{x}", undefined],
    ["(?i)\\ba\\b", undefined], // nothing of length >= 2
  ];
  for (const [pattern, want] of cases) {
    it(JSON.stringify(pattern), () => {
      assert.doesNotThrow(() => new RE2JS(pattern), "test pattern must be valid RE2");
      assert.deepEqual(cond(pattern), want);
    });
  }
});

interface Shape {
  fold?: true;
  required?: string[][];
  prefixes?: string[];
  suffixes?: string[];
}

/** The whole condition with absent/empty parts left out, for comparison with a `Shape`. */
function shape(pattern: string): Shape | undefined {
  const c = literalCondition(pattern);
  if (c === undefined) return undefined;
  const out: Shape = {};
  if (c.fold) out.fold = true;
  if (c.required.length > 0) out.required = sortTerms(c.required);
  if (c.prefixes !== undefined) out.prefixes = [...c.prefixes].sort();
  if (c.suffixes !== undefined) out.suffixes = [...c.suffixes].sort();
  return out;
}

describe("literalCondition: anchors", () => {
  const cases: [string, Shape | undefined][] = [
    ["^/v2/things/[0-9]+/4$", { prefixes: ["/v2/things/"], suffixes: ["/4"] }], // required terms implied
    ["^/v2/things/[0-9]+/status", { prefixes: ["/v2/things/"], required: [["/status"]] }],
    ["^abc", { prefixes: ["abc"] }],
    ["abc$", { suffixes: ["abc"] }],
    ["\\Aabc", { prefixes: ["abc"] }],
    ["abc\\z", { suffixes: ["abc"] }],
    ["^a", { prefixes: ["a"] }], // no minimum length for anchored sets
    ["^ab*", { prefixes: ["a"] }], // the quantified last piece breaks the run before it
    ["^ab{2}c", { prefixes: ["a"] }],
    ["^a.b$", { prefixes: ["a"], suffixes: ["b"] }],
    ["(?s)^a.b$", { prefixes: ["a"], suffixes: ["b"] }],
    ["(?U)^ab+", { prefixes: ["a"] }],
    ["\\bab$", { suffixes: ["ab"] }],
    ["^\\.com$", { prefixes: [".com"], suffixes: [".com"] }],
    ["^a\\x41$", { prefixes: ["a"] }], // a hex escape is no literal here
    ["^(a|b)x", { prefixes: ["ax", "bx"] }],
    ["^(?P<v>get|put)/x$", { prefixes: ["get/x", "put/x"], suffixes: ["get/x", "put/x"] }],
    ["^(a|b*)x", undefined],
    ["^a$|^b$", { prefixes: ["a", "b"], suffixes: ["a", "b"] }], // top-level branches: union
    ["^ab|^cd|ef", { required: [["ab", "cd", "ef"]] }], // one branch is not anchored
    ["^ab|cd$", { required: [["ab", "cd"]] }],
    ["(?:^ab)", { required: [["ab"]] }], // inside a group: not an anchor
    ["(^)ab", { required: [["ab"]] }],
    ["(?:^ab|^cd)x", { required: [["ab", "cd"]] }],
    ["^*ab", { required: [["ab"]] }], // a quantified anchor is not an anchor
    ["^?ab$?", { required: [["ab"]] }],
    ["x^ab", { required: [["ab"]] }], // not the first piece
    ["ab$c", { required: [["ab"]] }],
    ["^$", undefined],
    ["^", undefined],
    ["^^ab", { required: [["ab"]] }], // conservative: the run after the first anchor is empty
    // (?m): ^ and $ are line anchors, \A and \z still text anchors
    ["(?m)^abc$", { required: [["abc"]] }],
    ["(?m)\\Aabc\\z", { prefixes: ["abc"], suffixes: ["abc"] }],
    ["(?im)^abc\\z", { fold: true, suffixes: ["abc"] }],
    ["(?sm)\\A/v2/", { prefixes: ["/v2/"] }],
    // (?i): sets are fold-normalized
    ["(?i)^Foo", { fold: true, prefixes: ["foo"] }],
    ["(?i)^(Get|PUT) /x$", { fold: true, prefixes: ["get /x", "put /x"], suffixes: ["get /x", "put /x"] }],
    ["(?is)^Drop\\s+Table$", { fold: true, prefixes: ["drop"], suffixes: ["table"] }],
    // give up entirely
    ["^caf\u00e9", undefined],
    ["(?i)^\u212aelvin", undefined],
  ];
  for (const [pattern, want] of cases) {
    it(JSON.stringify(pattern), () => {
      assert.doesNotThrow(() => new RE2JS(pattern), "test pattern must be valid RE2");
      assert.deepEqual(shape(pattern), want);
    });
  }

  it("an anchored run stops before it grows past the set bound", () => {
    const eight = "(a|b|c|d|e|f|g|h)";
    const c = literalCondition(`^${eight}${eight}${eight}x`);
    assert.equal(c?.prefixes?.length, 64);
    assert.ok(c?.prefixes?.every((p) => p.length === 2));
  });
});

describe("anchor semantics (RE2JS and Re2Cache agree)", () => {
  const cache = new Re2Cache();
  const facts: [string, string, boolean][] = [
    ["a$", "a", true],
    ["a$", "a\n", false], // `$` is the end of the text, not "before a final newline"
    ["(?s)a$", "a\n", false],
    ["a\\z", "a\n", false],
    ["^a", "\na", false],
    ["(?m)a$", "a\nb", true],
    ["(?m)a$", "a\n", true],
    ["(?m)^a", "b\na", true],
    ["(?m)\\Aa", "b\na", false], // \A and \z ignore (?m)
    ["(?m)a\\z", "a\nb", false],
    ["(?m)a\\z", "a\n", false],
    ["^*a", "ba", true], // a quantified anchor may match zero times
    ["(^)?a", "ba", true],
    ["^/v2/things/[0-9]+/4$", "/v2/things/123/4", true],
    ["^/v2/things/[0-9]+/4$", "/v2/things/123/4\n", false],
    ["^/v2/things/[0-9]+/4$", "/v2/things/123/9", false],
    ["^/v2/things/[0-9]+/4$", "x/v2/things/123/4", false],
    ["(?i)^Foo", "FOO bar", true],
    ["(?i)^Foo", "xfoo", false],
    ["(?i)^sk$", "\u017f\u212a", true], // LONG S and KELVIN SIGN fold to s and k
    ["(?i)^sk$", "\u017f\u212a\n", false],
    ["(?i)^Foo", "\nfoo", false],
    ["^a$|^b$", "b", true],
    ["^a$|^b$", "ab", false],
    ["Secret", "secret", false],
    ["Secret", "my Secret", true],
  ];
  for (const [pattern, input, want] of facts) {
    it(`${JSON.stringify(pattern)} on ${JSON.stringify(input)}: ${want}`, () => {
      assert.equal(new RE2JS(pattern).test(input), want, "RE2JS");
      assert.equal(cache.matches(input, pattern), want, "Re2Cache");
    });
  }

  it("admits checks prefixes, suffixes and required literals", () => {
    const c = literalCondition("^ab(x|y)+cd\\.ef$")!;
    assert.deepEqual(c.prefixes, ["ab"]);
    assert.deepEqual(c.suffixes, ["cd.ef"]);
    assert.equal(admits(c, "abxcd.ef"), true);
    assert.equal(admits(c, "zabxcd.ef"), false);
    assert.equal(admits(c, "abxcd.ef\n"), false);
    assert.equal(admits(c, "Abxcd.ef"), false); // case-sensitive: raw input
  });
});

describe("fold normalization", () => {
  it("RE2JS folds U+017F with s and U+212A with k", () => {
    assert.equal(new RE2JS("(?i)secret").test("\u017Fecret"), true);
    assert.equal(new RE2JS("(?i)kelvin").test("\u212Aelvin"), true);
    assert.equal(new RE2JS("(?i)SECRET").test("\u017Fecret"), true);
    assert.equal(new RE2JS("(?i)KELVIN").test("\u212Aelvin"), true);
    assert.equal(foldNormalize("\u017Fecret \u212Aelvin SeCrEt"), "secret kelvin secret");
  });

  it("every BMP code point RE2JS folds to an ASCII character normalizes to it", () => {
    const anyAscii = new RE2JS("(?i)[\\x00-\\x7f]");
    const literal = Array.from({ length: 128 }, (_, a) => new RE2JS("(?i)" + RE2JS.quote(String.fromCharCode(a))));
    const extra: number[] = [];
    for (let c = 0; c <= 0xffff; c++) {
      const ch = String.fromCharCode(c);
      if (!anyAscii.test(ch)) continue;
      if (c > 0x7f) extra.push(c);
      for (let a = 0; a < 128; a++) {
        if (literal[a]!.test(ch)) {
          assert.equal(
            foldNormalize(ch),
            String.fromCharCode(a).toLowerCase(),
            `U+${c.toString(16)} folds to ${JSON.stringify(String.fromCharCode(a))}`,
          );
        }
      }
    }
    assert.deepEqual(extra, [0x17f, 0x212a]);
  });

  it("no other BMP character matches a case-folded ASCII letter literal", () => {
    // The class scan above relies on class folding; check literal folding too.
    // Capture groups keep RE2 from merging the letters into one class, so this
    // is 26 folded literals (RUNE with FOLD_CASE) checked in a single pass.
    const letters = new RE2JS("(?i)" + Array.from({ length: 26 }, (_, i) => `(${String.fromCharCode(0x61 + i)})`).join("|"));
    assert.equal(letters.test("\u212a") && letters.test("\u017f") && letters.test("Q") && letters.test("z"), true);
    let rest = "";
    for (let c = 0x80; c <= 0xffff; c++) {
      if ((c >= 0xd800 && c <= 0xdfff) || c === 0x17f || c === 0x212a) continue;
      rest += String.fromCharCode(c);
    }
    if (letters.test(rest)) {
      const culprit = [...rest].find((ch) => letters.test(ch))!;
      assert.fail(`U+${culprit.charCodeAt(0).toString(16)} matches a folded ASCII letter literal`);
    }
  });
});


/** Pattern source plus a sampler of text it often (not always) matches. */
interface Piece {
  readonly src: string;
  readonly sample: () => string;
}

const fixed = (src: string, text = ""): Piece => ({ src, sample: () => text });

/** [source, text it may match]: anchors anywhere, escapes, classes, things the scanner gives up on. */
const SINGLES: readonly (readonly [string, string])[] = [
  ["a", "a"], ["b", "b"], ["k", "k"], ["K", "K"], ["s", "s"], ["S", "S"], ["_", "_"], ["-", "-"],
  [" ", " "], ["]", "]"], ["}", "}"], [",", ","], ["=", "="], ["'", "'"], ["/", "/"], ["4", "4"],
];
const ESCAPES: readonly (readonly [string, string])[] = [
  ["\\.", "."], ["\\-", "-"], ["\\\\", "\\"], ["\\*", "*"], ["\\(", "("], ["\\_", "_"], ["\\ ", " "],
  ["\\t", "\t"], ["\\n", "\n"], ["\\'", "'"], ["\\/", "/"], ["\\$", "$"], ["\\^", "^"],
  ["\\x4b", "K"], ["\\x{17F}", "\u017f"], ["\\x{212a}", "\u212a"], ["\\113", "K"], ["\\0", "\0"],
  ["\\123", "S"], ["\\x73", "s"], ["\\x{6B}", "k"],
];
const CLASSES: readonly (readonly [string, string])[] = [
  ["[a-k]", "ak"], ["[^s]", "kS_"], ["[ks]", "ksKS"], ["[]k]", "]k"], ["[^]s]", "a]"], ["[[:alpha:]]", "aZ"],
  ["[\\x00-\\x7f]", "a\n"], ["[s-]", "s-"], ["[\\d_]", "3_"], ["[!-[:]", "!["], ["[0-9]", "09"], ["[^/]", "a/"],
  ["\\d", "3"], ["\\w", "a_"], ["\\s", " \n"], ["\\W", "-\u00e9"], ["\\pL", "a\u00e9"], ["\\p{Greek}", "\u03a3"],
  ["\\PL", "3"], ["\\p{^L}", "-"], [".", "a\n\u00e9"],
];
const ZERO_WIDTH = ["^", "$", "\\b", "\\B", "\\A", "\\z"];
const GIVE_UP: readonly (readonly [string, string])[] = [
  ["\\Qs.k\\E", "s.k"], ["(?i:sk)", "Sk"], ["(?-i)", ""], ["(?s)", ""], ["\u00e9", "\u00e9"], ["\u212a", "\u212a"],
  ["\u017f", "\u017f"], ["{", "{"], ["a{,2}", "a{,2}"], ["\\C", "x"], ["(?=k)", "k"], ["\\Z", ""],
];
/** Start and end anchors for the top-level branches, some of them not really anchors. */
const STARTS: readonly (readonly [string, string])[] = [
  ["^", ""], ["^", ""], ["\\A", ""], ["^^", ""], ["\\A^", ""], ["(?:^)", ""], ["(^)", ""], ["^*", ""],
  ["^?", "x"], ["\\b^", ""], ["^\\b", ""], ["^\\n", "\n"], ["(?:^|x)", "x"],
];
const ENDS: readonly (readonly [string, string])[] = [
  ["$", ""], ["$", ""], ["\\z", ""], ["$$", ""], ["(?:$)", ""], ["($)", ""], ["$*", "x"], ["\\b$", ""],
  ["$\\b", ""], ["\\n$", "\n"], ["$\\n", "\n"], ["\\n?$", "\n"], ["\\n\\z", "\n"], ["(?:$|x)", "x"],
];
const WORDS = [
  "sk", "ks", "kiss", "ask", "desk", "secret", "token", "col_3", "Sk", "KS", "tO", "a", "s", "k", "x y",
  "/v2/", "things", "/4", "Ab", "aB", "\\.com",
];

class Gen {
  /** Literal text used in the pattern, to build inputs that almost match. */
  readonly words: string[] = [];
  #groups = 0;
  fold = false;
  constructor(private readonly rnd: () => number) {}

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }

  pattern(): Piece {
    const flags = this.pick(["(?i)", "(?i)", "(?is)", "(?si)", "(?im)", "(?iU)", "(?s)", "(?m)", "(?sm)", "(?U)", "", "", ""]);
    this.fold = flags.includes("i");
    const body = this.chance(0.5) ? this.anchored() : this.alternation(0);
    return { src: flags + body.src, sample: body.sample };
  }

  /** Top-level branches with start/end anchors around them. */
  anchored(): Piece {
    const n = this.chance(0.7) ? 1 : 2 + this.int(2);
    const bs: Piece[] = [];
    for (let i = 0; i < n; i++) {
      const parts: Piece[] = [];
      if (this.chance(0.75)) parts.push(fixed(...this.pick(STARTS)));
      parts.push(this.concatenation(0));
      if (this.chance(0.6)) parts.push(fixed(...this.pick(ENDS)));
      bs.push(this.seq(parts));
    }
    return this.alt(bs);
  }

  seq(ps: readonly Piece[]): Piece {
    return { src: ps.map((p) => p.src).join(""), sample: () => ps.map((p) => p.sample()).join("") };
  }
  alt(bs: readonly Piece[]): Piece {
    return { src: bs.map((b) => b.src).join("|"), sample: () => this.pick(bs).sample() };
  }

  alternation(depth: number): Piece {
    const n = this.chance(0.75) ? 1 : 2 + this.int(3);
    const bs: Piece[] = [];
    for (let i = 0; i < n; i++) bs.push(this.concatenation(depth));
    return this.alt(bs);
  }

  concatenation(depth: number): Piece {
    const n = this.int(5);
    const ps: Piece[] = [];
    for (let i = 0; i < n; i++) ps.push(this.quantified(this.atom(depth)));
    return this.seq(ps);
  }

  quantified(atom: Piece): Piece {
    if (this.chance(0.7)) return atom;
    const [q, lo, hi] = this.pick([
      ["?", 0, 1], ["*", 0, 3], ["+", 1, 3], ["{0,2}", 0, 2], ["{1,3}", 1, 3], ["{2}", 2, 2],
      ["{1,}", 1, 3], ["{0}", 0, 0], ["{0,}", 0, 2], ["{01}", 1, 1],
    ] as const);
    const lazy = this.chance(0.2) ? "?" : "";
    return {
      src: atom.src + q + lazy,
      sample: () => {
        let s = "";
        for (let i = lo + this.int(hi - lo + 1); i > 0; i--) s += atom.sample();
        return s;
      },
    };
  }

  atom(depth: number): Piece {
    const r = this.int(100);
    const word = (): Piece => {
      const w = this.pick(WORDS);
      this.words.push(w.replace("\\", ""));
      return fixed(w, w.replace("\\", ""));
    };
    if (r < 30) return word();
    if (r < 40) return fixed(...this.pick(SINGLES));
    if (r < 50) return fixed(...this.pick(ESCAPES));
    if (r < 64) {
      const [src, chars] = this.pick(CLASSES);
      return { src, sample: () => this.pick([...chars]) };
    }
    if (r < 72) return fixed(this.pick(ZERO_WIDTH));
    if (r < 75) return fixed(...this.pick(GIVE_UP));
    if (depth >= 3) return word();
    const inner = this.alternation(depth + 1);
    const open = this.pick(["(", "(", "(?:", "(?P<g", "(?<g"]);
    const src = open.endsWith("g") ? `${open}${++this.#groups}>${inner.src})` : `${open}${inner.src})`;
    return { src, sample: inner.sample };
  }

  /** Random case, with k/s sometimes replaced by their non-ASCII fold partners. */
  mangle(w: string): string {
    let s = "";
    for (const ch of w) {
      const r = this.rnd();
      if ((ch === "k" || ch === "K") && r < 0.2) s += "\u212a";
      else if ((ch === "s" || ch === "S") && r < 0.2) s += "\u017f";
      else s += r < 0.5 ? ch.toUpperCase() : ch.toLowerCase();
    }
    return s;
  }

  /** Text the pattern often matches: case-mangled mostly under (?i), rarely otherwise. */
  sampled(p: Piece): string {
    const s = p.sample();
    return this.chance(this.fold ? 0.7 : 0.1) ? this.mangle(s) : s;
  }

  /** A few characters, or a word of the pattern, possibly cut or mangled. */
  noise(): string {
    const pool = ["a", "k", "K", "s", "S", "x", "_", "3", " ", "\n", ".", "-", "\\", "'", "/", "\u017f", "\u212a", "\u00e9", "\u00df", "\u0130", "\u03a3", "\u{1f600}", "\u00c5"];
    const n = 1 + this.int(3);
    let s = "";
    for (let i = 0; i < n; i++) {
      if (this.words.length > 0 && this.chance(0.5)) {
        const w = this.pick(this.words);
        const a = this.int(w.length + 1);
        const b = a + this.int(w.length + 1 - a);
        const cut = this.chance(0.6) ? w : w.slice(a, b);
        s += this.chance(this.fold ? 0.7 : 0.2) ? this.mangle(cut) : cut;
      } else {
        s += this.pick(pool);
      }
    }
    return s;
  }

  input(p: Piece): string {
    const r = this.rnd();
    let s: string;
    if (r < 0.5) {
      s = (this.chance(0.5) ? "" : this.noise()) + this.sampled(p) + (this.chance(0.5) ? "" : this.noise());
    } else if (r < 0.65) {
      s = this.sampled(p) + this.sampled(p);
    } else {
      s = this.int(4) === 0 ? "" : this.noise() + this.noise();
    }
    const t = this.rnd();
    if (t < 0.15) s += "\n";
    else if (t < 0.25) s = "\n" + s;
    return s;
  }
}

describe("Re2Cache differential fuzz against RE2JS", () => {
  it("agrees with RE2JS.test on random patterns and inputs", () => {
    const seed = Number(process.env.RE2_FUZZ_SEED ?? 20261122);
    const budgetMs = Number(process.env.RE2_FUZZ_MS ?? 700);
    const rnd = prng(seed);
    const cache = new Re2Cache();
    const deadline = Date.now() + budgetMs;
    const n = { patterns: 0, invalid: 0, withCondition: 0, caseSensitive: 0, anchored: 0, checks: 0, matched: 0 };
    const m = { rejected: 0, rejectedByAnchor: 0, matchedUnderCondition: 0, matchedUnderAnchor: 0 };
    while (Date.now() < deadline) {
      const g = new Gen(rnd);
      const p = g.pattern();
      let re: RE2JS;
      try {
        re = new RE2JS(p.src);
      } catch {
        n.invalid++;
        continue;
      }
      n.patterns++;
      const c = literalCondition(p.src);
      const anchored = c !== undefined && (c.prefixes !== undefined || c.suffixes !== undefined);
      if (c !== undefined) n.withCondition++;
      if (c !== undefined && !c.fold) n.caseSensitive++;
      if (anchored) n.anchored++;
      for (let i = 0; i < 30; i++) {
        const input = g.input(p);
        const want = re.test(input);
        const got = cache.matches(input, p.src);
        n.checks++;
        if (want) n.matched++;
        if (c !== undefined) {
          const text = c.fold ? foldNormalize(input) : input;
          if (!admits(c, text)) {
            m.rejected++;
            if (admits({ ...c, prefixes: undefined, suffixes: undefined }, text)) m.rejectedByAnchor++;
          }
          if (want) m.matchedUnderCondition++;
          if (want && anchored) m.matchedUnderAnchor++;
        }
        if (got !== want) {
          assert.fail(
            `seed ${seed}: Re2Cache.matches disagrees with RE2JS.test\n` +
              `  pattern ${JSON.stringify(p.src)}\n  input   ${JSON.stringify(input)}\n` +
              `  condition ${JSON.stringify(c)}\n  RE2JS ${want}, Re2Cache ${got}`,
          );
        }
      }
    }
    console.log(`re2 prefilter fuzz: seed ${seed}, ${budgetMs} ms, ${JSON.stringify({ ...n, ...m })}`);
    assert.ok(n.patterns > 100, "fuzz ran too few patterns");
    assert.ok(n.withCondition > n.patterns / 10, "too few patterns had a condition: the fuzz is not exercising the prefilter");
    assert.ok(n.caseSensitive > 0 && n.anchored > 0, "no case-sensitive or anchored conditions");
    assert.ok(m.rejected > 0 && m.matchedUnderCondition > 0 && m.matchedUnderAnchor > 0);
  });
});

describe("micro-benchmark (logged, not asserted)", () => {
  const time = (f: () => void, n: number): number => {
    for (let i = 0; i < 1000; i++) f();
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) f();
    return Number(process.hrtime.bigint() - t) / n / 1000;
  };

  it("time per matches on a 150-char non-matching SQL statement", () => {
    const sql =
      "SELECT col_1, col_2, col_4, amount FROM analytics.events WHERE tenant_id = 42 AND created_at > now() - interval '1 day' ORDER BY created_at DESC LIMIT 100";
    const other = sql.replace("amount", "amounts");
    const cache = new Re2Cache();
    for (const p of ["(?i)\\bcol_3\\b", SECRET_WORDS, "(?is)copy.*to program"]) {
      const re = new RE2JS(p);
      assert.equal(re.test(sql), false);
      assert.equal(cache.matches(sql, p), false);
      const before = time(() => re.test(sql), 5000);
      const after = time(() => cache.matches(sql, p), 50000);
      // Alternating two statements defeats the one-entry memo: every call normalizes.
      let flip = false;
      const uncached = time(() => cache.matches((flip = !flip) ? sql : other, p), 50000);
      console.log(
        `  ${p} on ${sql.length} chars: RE2JS ${before.toFixed(3)} µs, Re2Cache ${after.toFixed(3)} µs ` +
          `(${(before / after).toFixed(0)}x; ${uncached.toFixed(3)} µs when the input changes every call)`,
      );
    }
  });

  it("time per call for anchored and case-sensitive patterns", () => {
    const cache = new Re2Cache();
    const sql =
      "SELECT col_1, col_2, col_4, amount FROM analytics.events WHERE tenant_id = 42 AND created_at > now() - interval '1 day' ORDER BY created_at DESC LIMIT 100";
    const cases: [string, string][] = [
      ["^/v2/things/[0-9]+/4$", "/v2/things/123/9"],
      ["^/v2/things/[0-9]+/4$", "/v1/other"],
      ["(?i)^/V2/things/[0-9]+/4$", "/v2/things/123/9"],
      ["/admin/(users|roles)", "/v2/things/123/9?expand=owner"],
      ["DROP\\s+TABLE", sql],
    ];
    // RE2JS.test is the "before" for case-sensitive patterns (Re2Cache used to
    // call it directly); precompiled .test is the JIT's path, matches() the interpreter's.
    for (const [p, input] of cases) {
      const re = new RE2JS(p);
      const compiled = cache.precompile(p);
      assert.equal(re.test(input), false);
      assert.equal(compiled.test(input), false);
      const before = time(() => re.test(input), 20000);
      const after = time(() => compiled.test(input), 20000);
      const viaMatches = time(() => cache.matches(input, p), 20000);
      const shown = input.length > 40 ? input.slice(0, 37) + "..." : input;
      console.log(
        `  ${p} on ${JSON.stringify(shown)}: RE2JS ${before.toFixed(3)} µs, precompiled ${after.toFixed(3)} µs ` +
          `(${(before / after).toFixed(1)}x), Re2Cache.matches ${viaMatches.toFixed(3)} µs`,
      );
    }
    // A rule set: every pattern against every path in turn, as decisions do.
    // Only the non-matching pairs: a match costs a full RE2JS run either way.
    const paths = ["/v2/things/123/9", "/v1/other", "/v2/things/77/4", "/v2/things/5/status", "/healthz", "/admin/users", "/static/app.js"];
    const rules = ["^/v2/things/[0-9]+/4$", "^/v2/things/[0-9]+/status$", "^/v1/", "/admin/(users|roles)", "^/healthz$", "\\.php$", "^/internal/"];
    const pairs: [RE2JS, Re2Pattern, string][] = [];
    for (const p of rules) for (const path of paths) if (!new RE2JS(p).test(path)) pairs.push([new RE2JS(p), cache.precompile(p), path]);
    let sink = 0;
    const before = time(() => { for (const [re, , path] of pairs) if (re.test(path)) sink++; }, 5000) / pairs.length;
    const after = time(() => { for (const [, pre, path] of pairs) if (pre.test(path)) sink++; }, 5000) / pairs.length;
    assert.equal(sink, 0);
    console.log(
      `  ${rules.length} path rules x ${paths.length} paths, ${pairs.length} non-matching pairs, per call: ` +
        `RE2JS ${before.toFixed(3)} µs, precompiled ${after.toFixed(3)} µs (${(before / after).toFixed(1)}x)`,
    );
  });
});
