import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RE2JS } from "@bufbuild/re2";
import { foldNormalize, foldPrefilter, satisfies } from "./re2-prefilter.js";
import { Re2Cache } from "./re2.js";

const SECRET_WORDS = "(?i)\\b(secret|password|token|api_key|private_key|access_key|signing_secret)\\b";

/** The condition as sorted terms of sorted strings, for order-free comparison. */
function cond(pattern: string): string[][] | undefined {
  const c = foldPrefilter(pattern);
  if (c === undefined) return undefined;
  return c.map((t) => [...t].sort()).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

function terms(...ts: string[][]): string[][] {
  return ts.map((t) => [...t].sort()).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe("foldPrefilter: extracted condition", () => {
  const cases: [string, string[][] | undefined][] = [
    // real-world policy patterns
    [SECRET_WORDS, terms(["secret", "password", "token", "api_key", "private_key", "access_key", "signing_secret"])],
    ["(?is)copy.*to program", terms(["copy"], ["to program"])],
    ["(?i)\\bcol_3\\b", terms(["col_3"])],
    ["(?i)col_3", terms(["col_3"])],
    // leading flag groups
    ["(?si)Drop Table", terms(["drop table"])],
    ["(?im)^grant\\s+all$", terms(["grant"], ["all"])],
    // case-sensitive patterns are left to RE2JS's own prefilter
    ["secret", undefined],
    ["(?s)secret", undefined],
    ["(?m)^secret", undefined],
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
    // escapes, classes, dot
    ["(?i)api\\.example\\.com", terms(["api.example.com"])],
    ["(?i)x\\-y\\\\z", terms(["x-y\\z"])],
    ["(?i)user\\d+_id", terms(["user"], ["_id"])],
    ["(?i)[]a]xy[^\\]]zz", terms(["xy"], ["zz"])],
    ["(?i)foo[[:alpha:]]bar\\p{Greek}baz\\pLqux", terms(["foo"], ["bar"], ["baz"], ["qux"])],
    ["(?i)ab\\x41cd\\101ef", terms(["ab"], ["cd"], ["ef"])],
    // groups and alternation
    ["(?i)(?:select|update)\\s", terms(["select", "update"])],
    ["(?i)(?P<verb>grant|revoke) all", terms(["grant all", "revoke all"])],
    ["(?i)(?<t>ab|cd)(ef|gh)", terms(["abef", "abgh", "cdef", "cdgh"])],
    ["(?i)drop|truncate", terms(["drop", "truncate"])],
    ["(?i)drop.*table|truncate", terms(["table", "truncate"])], // one term per branch, the longest
    ["(?i)drop|x", undefined], // one branch is a single character
    ["(?i)(drop|)table", terms(["droptable", "table"])],
    ["(?i)\\.(a|b)\\.", terms([".a.", ".b."])], // short pieces joined into a run
    // give up
    ["(?i)\\Qsecret\\E", undefined],
    ["(?i)sec(?-i)ret", undefined],
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
    let rest = "";
    for (let c = 0x80; c <= 0xffff; c++) {
      if ((c >= 0xd800 && c <= 0xdfff) || c === 0x17f || c === 0x212a) continue;
      rest += String.fromCharCode(c);
    }
    for (let a = 0x61; a <= 0x7a; a++) {
      const l = String.fromCharCode(a);
      assert.equal(new RE2JS("(?i)" + l).test(rest), false, l);
    }
  });
});

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  /** Literal text used in the pattern, to build inputs that almost match. */
  readonly words: string[] = [];
  #groups = 0;
  constructor(private readonly rnd: () => number) {}

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  pattern(): string {
    const flags = this.pick(["(?i)", "(?i)", "(?i)", "(?is)", "(?si)", "(?im)", "(?iU)", "(?s)", ""]);
    return flags + this.alternation(0);
  }

  alternation(depth: number): string {
    const n = this.rnd() < 0.75 ? 1 : 2 + this.int(3);
    const bs: string[] = [];
    for (let i = 0; i < n; i++) bs.push(this.concatenation(depth));
    return bs.join("|");
  }

  concatenation(depth: number): string {
    const n = this.int(5);
    let s = "";
    for (let i = 0; i < n; i++) s += this.atom(depth) + this.quantifier();
    return s;
  }

  quantifier(): string {
    if (this.rnd() < 0.7) return "";
    const q = this.pick(["?", "*", "+", "{0,2}", "{1,3}", "{2}", "{1,}", "{0}", "{0,}", "{01}"]);
    return q + (this.rnd() < 0.2 ? "?" : "");
  }

  literalWord(): string {
    const w = this.pick(["sk", "ks", "kiss", "ask", "desk", "secret", "token", "col_3", "Sk", "KS", "tO", "a", "s", "k", "x y"]);
    this.words.push(w);
    return w;
  }

  atom(depth: number): string {
    const r = this.int(100);
    if (r < 30) return this.literalWord();
    if (r < 40) return this.pick(["a", "b", "k", "K", "s", "S", "_", "-", " ", "]", "}", ",", "=", "'"]);
    if (r < 46) return this.pick(["\\.", "\\-", "\\\\", "\\*", "\\(", "\\_", "\\ ", "\\t", "\\n", "\\'"]);
    if (r < 50) return this.pick(["\\x4b", "\\x{17F}", "\\x{212a}", "\\113", "\\0", "\\123", "\\x73", "\\x{6B}"]);
    if (r < 58) return this.pick(["[a-k]", "[^s]", "[ks]", "[]k]", "[^]s]", "[[:alpha:]]", "[\\x00-\\x7f]", "[s-]", "[\\d_]", "[!-[:]"]);
    if (r < 64) return this.pick(["\\d", "\\w", "\\s", "\\W", "\\pL", "\\p{Greek}", "\\PL", "\\p{^L}"]);
    if (r < 68) return ".";
    if (r < 76) return this.pick(["^", "$", "\\b", "\\B", "\\A", "\\z"]);
    if (r < 79) {
      // things the scanner gives up on (or RE2 rejects)
      return this.pick(["\\Qs.k\\E", "(?i:sk)", "(?-i)", "(?s)", "\u00e9", "\u212a", "\u017f", "{", "a{,2}", "\\C", "(?=k)", "\\Z"]);
    }
    if (depth >= 3) return this.literalWord();
    const inner = this.alternation(depth + 1);
    const open = this.pick(["(", "(", "(?:", "(?P<g", "(?<g"]);
    if (open.endsWith("g")) return `${open}${++this.#groups}>${inner})`;
    return `${open}${inner})`;
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

  input(): string {
    const pool = ["a", "k", "K", "s", "S", "x", "_", "3", " ", "\n", ".", "-", "\\", "'", "\u017f", "\u212a", "\u00e9", "\u00df", "\u0130", "\u03a3", "\u{1f600}", "\u00c5"];
    const n = this.int(7);
    let s = "";
    for (let i = 0; i < n; i++) {
      if (this.words.length > 0 && this.rnd() < 0.5) {
        const w = this.pick(this.words);
        const a = this.int(w.length + 1);
        const b = a + this.int(w.length + 1 - a);
        s += this.mangle(this.rnd() < 0.6 ? w : w.slice(a, b));
      } else {
        s += this.pick(pool);
      }
    }
    return s;
  }
}

describe("Re2Cache differential fuzz against RE2JS", () => {
  it("agrees with RE2JS.test on random patterns and inputs", () => {
    const seed = Number(process.env.RE2_FUZZ_SEED ?? 20261122);
    const budgetMs = Number(process.env.RE2_FUZZ_MS ?? 2500);
    const rnd = prng(seed);
    const cache = new Re2Cache();
    const deadline = Date.now() + budgetMs;
    let patterns = 0;
    let invalid = 0;
    let withCondition = 0;
    let checks = 0;
    let rejected = 0;
    let matched = 0;
    while (Date.now() < deadline) {
      const g = new Gen(rnd);
      const p = g.pattern();
      let re: RE2JS;
      try {
        re = new RE2JS(p);
      } catch {
        invalid++;
        continue;
      }
      patterns++;
      const c = foldPrefilter(p);
      if (c !== undefined) withCondition++;
      for (let i = 0; i < 30; i++) {
        const input = g.input();
        const want = re.test(input);
        const got = cache.matches(input, p);
        checks++;
        if (want) matched++;
        if (c !== undefined && !satisfies(c, foldNormalize(input))) rejected++;
        if (got !== want) {
          assert.fail(
            `seed ${seed}: Re2Cache.matches disagrees with RE2JS.test\n` +
              `  pattern ${JSON.stringify(p)}\n  input   ${JSON.stringify(input)}\n` +
              `  condition ${JSON.stringify(c)}\n  RE2JS ${want}, Re2Cache ${got}`,
          );
        }
      }
    }
    console.log(
      `re2 prefilter fuzz: seed ${seed}, ${patterns} valid patterns (${invalid} invalid skipped), ` +
        `${withCondition} with a condition, ${checks} inputs, ${matched} matches, ${rejected} rejected by the prefilter`,
    );
    assert.ok(patterns > 100, "fuzz ran too few patterns");
    assert.ok(withCondition > patterns / 10, "too few patterns had a condition: the fuzz is not exercising the prefilter");
    assert.ok(rejected > 0 && matched > 0);
  });
});

describe("micro-benchmark (logged, not asserted)", () => {
  it("time per matches on a 150-char non-matching SQL statement", () => {
    const sql =
      "SELECT col_1, col_2, col_4, amount FROM analytics.events WHERE tenant_id = 42 AND created_at > now() - interval '1 day' ORDER BY created_at DESC LIMIT 100";
    const other = sql.replace("amount", "amounts");
    const time = (f: () => void, n: number): number => {
      for (let i = 0; i < 1000; i++) f();
      const t = process.hrtime.bigint();
      for (let i = 0; i < n; i++) f();
      return Number(process.hrtime.bigint() - t) / n / 1000;
    };
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
});
