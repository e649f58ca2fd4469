/**
 * A compiler from the CEL that rule conditions are made of to JavaScript.
 *
 * cel-js checks a condition's types at load time, but evaluating through the
 * library (or through a tree of closures) costs 30–300 ns per rule, which
 * over a 100-rule walk is most of a decision. This module turns an already
 * type-checked AST into one small JavaScript function per condition (a few
 * ns), for the subset policies use: field access on the typed facet
 * variables, string / int / bool comparisons, `in`, logical operators with
 * CEL's error absorption, string methods, `size`, RE2 `matches`, `sets.*`,
 * `has()` on maps and the `exists` / `all` / `exists_one` macros. Anything
 * else — `dyn` values such as `http.body_json`, arithmetic, map literals,
 * conversions — makes {@link jitCompile} return `undefined`, and the caller
 * keeps evaluating that condition with cel-js. Differential tests
 * (jit.test.ts) hold the two to the same answers.
 *
 * Safety of the generated source: rule text never becomes code. String
 * literals are embedded with `JSON.stringify`, numbers are formatted from
 * parsed values, property names are spliced only when they are identifiers
 * from our own variable schema, and everything else (map keys, patterns,
 * literal lists) is passed in as a constant.
 */
import type { ASTNode } from "@marcbachmann/cel-js";
import { RE2_MATCHES_FN, VARIABLE_SCHEMAS } from "./env.js";
import type { Re2Cache, Re2Pattern } from "./re2.js";

/** Variable values for one evaluation, by name. */
export type Vars = Record<string, object>;

type T =
  | "string"
  | "int"
  | "double"
  | "bool"
  | { struct: string }
  | { list: T }
  | { map: [T, T] };

/** A compiled sub-expression: JavaScript source plus what we know about it. */
interface C {
  src: string;
  type: T;
  /** Whether evaluation may raise a CEL error (missing key, bad index, ...). */
  throws: boolean;
  /** Present when the value is known at compile time. */
  constant?: { value: unknown };
}

/** Thrown by compiled code for CEL evaluation errors (missing key, bad index, ...). */
export class CelEvalError extends Error {}

/** Internal: the expression uses something this compiler does not handle. */
class Unsupported extends Error {}

function bail(): never {
  throw new Unsupported();
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses the type strings used in VARIABLE_SCHEMAS (`map<string, list<string>>`). */
function parseType(s: string): T {
  s = s.replace(/\s+/g, "");
  if (s === "string" || s === "int" || s === "double" || s === "bool") return s;
  if (s.startsWith("list<") && s.endsWith(">")) return { list: parseType(s.slice(5, -1)) };
  if (s.startsWith("map<") && s.endsWith(">")) {
    const inner = s.slice(4, -1);
    let depth = 0;
    for (let i = 0; i < inner.length; i++) {
      const ch = inner[i];
      if (ch === "<") depth++;
      else if (ch === ">") depth--;
      else if (ch === "," && depth === 0) return { map: [parseType(inner.slice(0, i)), parseType(inner.slice(i + 1))] };
    }
  }
  return bail(); // dyn and anything else
}

const isPrim = (t: T): t is "string" | "int" | "double" | "bool" => typeof t === "string";
const same = (a: T, b: T): boolean => JSON.stringify(a) === JSON.stringify(b);
const isList = (t: T): t is { list: T } => typeof t === "object" && "list" in t;
const isMap = (t: T): t is { map: [T, T] } => typeof t === "object" && "map" in t;

/** Runtime helpers the generated code calls (passed in as `h`). */
const helpers = {
  mapHas(m: unknown, k: unknown): boolean {
    if (m instanceof Map) return m.has(k);
    return typeof k === "string" && Object.prototype.hasOwnProperty.call(m, k);
  },
  mapGet(m: unknown, k: unknown): unknown {
    if (m instanceof Map) {
      const v = m.get(k);
      if (v === undefined && !m.has(k)) throw new CelEvalError(`No such key: ${String(k)}`);
      return v;
    }
    if (typeof k === "string" && Object.prototype.hasOwnProperty.call(m, k)) return (m as Record<string, unknown>)[k];
    throw new CelEvalError(`No such key: ${String(k)}`);
  },
  mapKeys(m: unknown): unknown[] {
    return m instanceof Map ? [...m.keys()] : Object.keys(m as object);
  },
  at(list: unknown[], i: bigint): unknown {
    if (i < 0n || i >= BigInt(list.length)) throw new CelEvalError(`index out of bounds: ${i}`);
    return list[Number(i)];
  },
  codePoints(s: string): bigint {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0xd800 || c > 0xdbff) n++;
    }
    return BigInt(n);
  },
  listEq(p: unknown[], q: unknown[]): boolean {
    return p.length === q.length && p.every((e, i) => e === q[i]);
  },
  intersects(x: unknown[], y: unknown[]): boolean {
    for (const e of x) if (y.includes(e)) return true;
    return false;
  },
  containsAll(x: unknown[], y: unknown[]): boolean {
    return y.every((e) => x.includes(e));
  },
  equivalent(x: unknown[], y: unknown[]): boolean {
    const a = new Set(x);
    const b = new Set(y);
    return a.size === b.size && [...a].every((e) => b.has(e));
  },
};

interface Scope {
  /** Comprehension variables: CEL name → JS local name and type. */
  names: Map<string, { js: string; type: T }>;
  depth: number;
}

class Compiler {
  /** Values the generated code reads as `k[i]` (patterns, literal lists, map keys). */
  readonly constants: unknown[] = [];

  constructor(private readonly re2: Re2Cache) {}

  konst(value: unknown): string {
    this.constants.push(value);
    return `k[${this.constants.length - 1}]`;
  }

  compile(n: ASTNode, scope: Scope): C {
    switch (n.op) {
      case "value":
        return this.literal(n.args);
      case "id":
        return this.ident(n.args, scope);
      case ".":
        return this.select(n.args[0], n.args[1], scope);
      case "[]":
        return this.index(n.args[0], n.args[1], scope);
      case "list":
        return this.list(n.args, scope);
      case "&&":
      case "||":
        return this.logical(this.boolC(n.args[0], scope), this.boolC(n.args[1], scope), n.op === "&&");
      case "!_": {
        const x = this.boolC(n.args, scope);
        return { src: `!(${x.src})`, type: "bool", throws: x.throws };
      }
      case "?:": {
        const c = this.boolC(n.args[0], scope);
        const t = this.compile(n.args[1], scope);
        const f = this.compile(n.args[2], scope);
        if (!same(t.type, f.type)) bail();
        return { src: `((${c.src}) ? (${t.src}) : (${f.src}))`, type: t.type, throws: c.throws || t.throws || f.throws };
      }
      case "==":
      case "!=":
        return this.equality(n.args[0], n.args[1], n.op === "!=", scope);
      case "<":
      case "<=":
      case ">":
      case ">=":
        return this.relation(n.op, n.args[0], n.args[1], scope);
      case "in":
        return this.membership(n.args[0], n.args[1], scope);
      case "rcall":
        return this.receiverCall(n.args[0], n.args[1], n.args[2], scope);
      case "call":
        return this.call(n.args[0], n.args[1], scope);
      default:
        return bail();
    }
  }

  boolC(n: ASTNode, scope: Scope): C {
    const c = this.compile(n, scope);
    if (c.type !== "bool") bail();
    return c;
  }

  /** CEL `&&` / `||`: a deciding side (false for `&&`, true for `||`) absorbs the other side's error. */
  logical(a: C, b: C, isAnd: boolean): C {
    const throws = a.throws || b.throws;
    if (!a.throws) {
      // Nothing to absorb from the left: plain short-circuit.
      return { src: isAnd ? `((${a.src}) && (${b.src}))` : `((${a.src}) || (${b.src}))`, type: "bool", throws };
    }
    const decider = String(!isAnd);
    const src = `(() => { let e; try { if ((${a.src}) === ${decider}) return ${decider}; } catch (x) { e = x; } const r = (${b.src}); if (r === ${decider}) return ${decider}; if (e !== undefined) throw e; return r; })()`;
    return { src, type: "bool", throws };
  }

  literal(v: unknown): C {
    switch (typeof v) {
      case "string":
        return { src: JSON.stringify(v), type: "string", throws: false, constant: { value: v } };
      case "bigint":
        return { src: `${v}n`, type: "int", throws: false, constant: { value: v } };
      case "number":
        if (!Number.isFinite(v)) return bail();
        return { src: `(${String(v)})`, type: "double", throws: false, constant: { value: v } };
      case "boolean":
        return { src: String(v), type: "bool", throws: false, constant: { value: v } };
      default:
        return bail();
    }
  }

  ident(name: string, scope: Scope): C {
    const local = scope.names.get(name);
    if (local) return { src: local.js, type: local.type, throws: false };
    if (name in VARIABLE_SCHEMAS && IDENT.test(name)) return { src: `v.${name}`, type: { struct: name }, throws: false };
    return bail();
  }

  select(target: ASTNode, field: string, scope: Scope): C {
    if (target.op === "id" && !scope.names.has(target.args) && target.args in VARIABLE_SCHEMAS) {
      const root = target.args;
      const schema = VARIABLE_SCHEMAS[root as keyof typeof VARIABLE_SCHEMAS] as Record<string, string>;
      const ft = schema[field];
      if (ft === undefined || !IDENT.test(root) || !IDENT.test(field)) bail();
      return { src: `v.${root}.${field}`, type: parseType(ft), throws: false };
    }
    const t = this.compile(target, scope);
    if (isMap(t.type) && t.type.map[0] === "string") {
      return { src: `h.mapGet(${t.src}, ${JSON.stringify(field)})`, type: t.type.map[1], throws: true };
    }
    return bail();
  }

  index(target: ASTNode, key: ASTNode, scope: Scope): C {
    const t = this.compile(target, scope);
    const k = this.compile(key, scope);
    if (isList(t.type)) {
      if (k.type !== "int") bail();
      return { src: `h.at(${t.src}, ${k.src})`, type: t.type.list, throws: true };
    }
    if (isMap(t.type)) {
      if (!same(k.type, t.type.map[0])) bail();
      return { src: `h.mapGet(${t.src}, ${k.src})`, type: t.type.map[1], throws: true };
    }
    return bail();
  }

  list(items: ASTNode[], scope: Scope): C {
    const cs = items.map((i) => this.compile(i, scope));
    if (cs.length === 0) return bail();
    const et = cs[0]!.type;
    if (!isPrim(et) || cs.some((c) => !same(c.type, et))) bail();
    if (cs.every((c) => c.constant)) {
      const values = cs.map((c) => c.constant!.value);
      return { src: this.konst(values), type: { list: et }, throws: false, constant: { value: values } };
    }
    return { src: `[${cs.map((c) => c.src).join(", ")}]`, type: { list: et }, throws: cs.some((c) => c.throws) };
  }

  equality(a: ASTNode, b: ASTNode, negate: boolean, scope: Scope): C {
    const x = this.compile(a, scope);
    const y = this.compile(b, scope);
    if (!same(x.type, y.type)) bail();
    const throws = x.throws || y.throws;
    if (isPrim(x.type)) return { src: `((${x.src}) ${negate ? "!==" : "==="} (${y.src}))`, type: "bool", throws };
    if (isList(x.type) && isPrim(x.type.list)) {
      return { src: `(h.listEq(${x.src}, ${y.src}) ${negate ? "!==" : "==="} true)`, type: "bool", throws };
    }
    return bail();
  }

  relation(op: "<" | "<=" | ">" | ">=", a: ASTNode, b: ASTNode, scope: Scope): C {
    const x = this.compile(a, scope);
    const y = this.compile(b, scope);
    if (!same(x.type, y.type) || (x.type !== "int" && x.type !== "double")) bail();
    return { src: `((${x.src}) ${op} (${y.src}))`, type: "bool", throws: x.throws || y.throws };
  }

  membership(a: ASTNode, b: ASTNode, scope: Scope): C {
    const x = this.compile(a, scope);
    const y = this.compile(b, scope);
    const throws = x.throws || y.throws;
    if (isList(y.type)) {
      if (!isPrim(x.type) || !same(x.type, y.type.list)) bail();
      return { src: `(${y.src}).includes(${x.src})`, type: "bool", throws };
    }
    if (isMap(y.type)) {
      if (!same(x.type, y.type.map[0])) bail();
      return { src: `h.mapHas(${y.src}, ${x.src})`, type: "bool", throws };
    }
    return bail();
  }

  receiverCall(name: string, receiver: ASTNode, args: ASTNode[], scope: Scope): C {
    if (receiver.op === "id" && receiver.args === "sets" && !scope.names.has("sets")) return this.sets(name, args, scope);
    if ((name === "exists" || name === "all" || name === "exists_one") && args.length === 2) {
      return this.comprehension(name, receiver, args[0]!, args[1]!, scope);
    }
    const r = this.compile(receiver, scope);
    const cs = args.map((a) => this.compile(a, scope));
    const throws = r.throws || cs.some((c) => c.throws);
    if (r.type === "string" && cs.length === 1 && cs[0]!.type === "string") {
      const arg = cs[0]!;
      switch (name) {
        case "startsWith":
        case "endsWith":
          return { src: `(${r.src}).${name}(${arg.src})`, type: "bool", throws };
        case "contains":
          return { src: `(${r.src}).includes(${arg.src})`, type: "bool", throws };
        case RE2_MATCHES_FN: {
          if (arg.constant) {
            // Validated and compiled at load; matching a literal pattern cannot fail.
            const re: Re2Pattern = this.re2.get(arg.constant.value as string);
            return { src: `${this.konst(re)}.test(${r.src})`, type: "bool", throws: r.throws };
          }
          return { src: `${this.konst(this.re2)}.matches(${r.src}, ${arg.src})`, type: "bool", throws: true };
        }
      }
    }
    if (name === "size" && cs.length === 0) return this.sizeOf(r);
    return bail();
  }

  sizeOf(r: C): C {
    if (r.type === "string") return { src: `h.codePoints(${r.src})`, type: "int", throws: r.throws };
    if (isList(r.type)) return { src: `BigInt((${r.src}).length)`, type: "int", throws: r.throws };
    if (isMap(r.type)) return { src: `BigInt(h.mapKeys(${r.src}).length)`, type: "int", throws: r.throws };
    return bail();
  }

  call(name: string, args: ASTNode[], scope: Scope): C {
    if (name === "has" && args.length === 1 && args[0]!.op === ".") {
      const [target, field] = args[0]!.args as [ASTNode, string];
      const t = this.compile(target, scope);
      if (isMap(t.type) && t.type.map[0] === "string") {
        return { src: `h.mapHas(${t.src}, ${JSON.stringify(field)})`, type: "bool", throws: t.throws };
      }
      return bail();
    }
    const cs = args.map((a) => this.compile(a, scope));
    if (name === "size" && cs.length === 1) return this.sizeOf(cs[0]!);
    if (name === "matches" && cs.length === 2 && cs.every((c) => c.type === "string")) {
      return { src: `${this.konst(this.re2)}.matches(${cs[0]!.src}, ${cs[1]!.src})`, type: "bool", throws: true };
    }
    return bail();
  }

  sets(name: string, args: ASTNode[], scope: Scope): C {
    if (args.length !== 2) bail();
    const [a, b] = args.map((x) => this.compile(x, scope)) as [C, C];
    for (const c of [a, b]) if (!(isList(c.type) && isPrim(c.type.list))) bail();
    const fn = { intersects: "intersects", contains: "containsAll", equivalent: "equivalent" }[name];
    if (!fn) return bail();
    return { src: `h.${fn}(${a.src}, ${b.src})`, type: "bool", throws: a.throws || b.throws };
  }

  comprehension(kind: "exists" | "all" | "exists_one", range: ASTNode, variable: ASTNode, body: ASTNode, scope: Scope): C {
    if (variable.op !== "id") bail();
    const r = this.compile(range, scope);
    let elemType: T;
    let elems: string;
    if (isList(r.type)) {
      elemType = r.type.list;
      elems = r.src;
    } else if (isMap(r.type)) {
      elemType = r.type.map[0];
      elems = `h.mapKeys(${r.src})`;
    } else return bail();
    const js = `c${scope.depth}`;
    const inner: Scope = { names: new Map(scope.names), depth: scope.depth + 1 };
    inner.names.set(variable.args, { js, type: elemType });
    const pred = this.boolC(body, inner);
    const throws = r.throws || pred.throws;
    if (kind === "exists_one") {
      return { src: `(() => { let n = 0; for (const ${js} of ${elems}) { if ((${pred.src}) === true) n++; } return n === 1; })()`, type: "bool", throws };
    }
    // exists folds with ||, all with &&: a deciding element wins over an
    // erroring one; an error is raised only if nothing decided.
    const decider = String(kind === "exists");
    const src = pred.throws
      ? `(() => { let e; for (const ${js} of ${elems}) { try { if ((${pred.src}) === ${decider}) return ${decider}; } catch (x) { if (e === undefined) e = x; } } if (e !== undefined) throw e; return ${String(kind !== "exists")}; })()`
      : `(() => { for (const ${js} of ${elems}) { if ((${pred.src}) === ${decider}) return ${decider}; } return ${String(kind !== "exists")}; })()`;
    return { src, type: "bool", throws };
  }
}

/** A compiled condition: `(vars) → value`, throwing on CEL evaluation errors. */
export type JitProgram = (vars: Vars) => unknown;

/**
 * Compiles a type-checked AST (with the RE2 `matches` rewrite already applied)
 * to a JavaScript function, or returns undefined when it uses anything
 * outside the subset.
 */
export function jitCompile(ast: ASTNode, re2: Re2Cache): JitProgram | undefined {
  const compiler = new Compiler(re2);
  let c: C;
  try {
    c = compiler.compile(ast, { names: new Map(), depth: 0 });
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- see "Safety of the generated source" above.
  const factory = new Function("h", "k", `"use strict"; return (v) => (${c.src});`) as (
    h: typeof helpers,
    k: unknown[],
  ) => JitProgram;
  return factory(helpers, compiler.constants);
}
