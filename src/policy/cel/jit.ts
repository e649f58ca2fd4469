/**
 * A closure compiler for the CEL that rule conditions are made of.
 *
 * cel-js checks a condition's types at load time; evaluating it through the
 * library costs ~100–300 ns per rule, which over a 100-rule walk is most of a
 * decision. This module turns an already type-checked AST into plain
 * JavaScript closures (tens of ns) for the subset policies use: field access
 * on the typed facet variables, string / int / bool comparisons, `in`,
 * logical operators with CEL's error absorption, string methods, `size`,
 * RE2 `matches`, `sets.*`, `has()` on maps and the `exists` / `all` /
 * `exists_one` macros. Anything else — `dyn` values such as `http.body_json`,
 * arithmetic, map literals, conversions — returns `undefined`, and the caller
 * keeps evaluating that condition with cel-js. Differential tests
 * (jit.test.ts) hold the two to the same answers.
 */
import type { ASTNode } from "@marcbachmann/cel-js";
import { RE2_MATCHES_FN, VARIABLE_SCHEMAS } from "./env.js";
import type { Re2Cache } from "./re2.js";

/** Variable values for one evaluation, by name. */
export type Vars = Record<string, object>;

/** A compiled expression: reads variables and comprehension locals, returns a value or throws. */
type Fn = (vars: Vars, locals: unknown[]) => unknown;

type T =
  | "string"
  | "int"
  | "double"
  | "bool"
  | "null"
  | { struct: string }
  | { list: T }
  | { map: [T, T] };

interface C {
  fn: Fn;
  type: T;
}

/** Thrown by compiled code for CEL evaluation errors (missing key, bad index, ...). */
export class CelEvalError extends Error {}

/** Internal: the expression uses something this compiler does not handle. */
class Unsupported extends Error {}

function bail(): never {
  throw new Unsupported();
}

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

const isPrim = (t: T): t is "string" | "int" | "double" | "bool" => typeof t === "string" && t !== "null";
const same = (a: T, b: T): boolean => JSON.stringify(a) === JSON.stringify(b);

function mapHas(m: unknown, k: unknown): boolean {
  if (m instanceof Map) return m.has(k);
  return typeof k === "string" && Object.prototype.hasOwnProperty.call(m, k);
}

function mapGet(m: unknown, k: unknown): unknown {
  if (m instanceof Map) {
    const v = m.get(k);
    if (v === undefined && !m.has(k)) throw new CelEvalError(`No such key: ${String(k)}`);
    return v;
  }
  if (typeof k === "string" && Object.prototype.hasOwnProperty.call(m, k)) return (m as Record<string, unknown>)[k];
  throw new CelEvalError(`No such key: ${String(k)}`);
}

function mapKeys(m: unknown): unknown[] {
  return m instanceof Map ? [...m.keys()] : Object.keys(m as object);
}

function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

/** CEL `&&` / `||` over possibly-erroring operands: a deciding side absorbs the other's error. */
function logical(a: Fn, b: Fn, isAnd: boolean): Fn {
  const decider = !isAnd; // `&&` is decided by false, `||` by true
  return (v, l) => {
    let errA: unknown;
    let ra: unknown;
    try {
      ra = a(v, l);
      if (ra === decider) return decider;
    } catch (e) {
      errA = e;
    }
    const rb = b(v, l);
    if (rb === decider) return decider;
    if (errA !== undefined) throw errA;
    return rb;
  };
}

interface Scope {
  names: Map<string, { slot: number; type: T }>;
  next: number;
}

class Compiler {
  constructor(private readonly re2: Re2Cache) {}

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
      case "||": {
        const a = this.bool(n.args[0], scope);
        const b = this.bool(n.args[1], scope);
        return { fn: logical(a, b, n.op === "&&"), type: "bool" };
      }
      case "!_": {
        const x = this.bool(n.args, scope);
        return { fn: (v, l) => !x(v, l), type: "bool" };
      }
      case "?:": {
        const c = this.bool(n.args[0], scope);
        const t = this.compile(n.args[1], scope);
        const f = this.compile(n.args[2], scope);
        if (!same(t.type, f.type)) bail();
        return { fn: (v, l) => (c(v, l) ? t.fn(v, l) : f.fn(v, l)), type: t.type };
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

  bool(n: ASTNode, scope: Scope): Fn {
    const c = this.compile(n, scope);
    if (c.type !== "bool") bail();
    return c.fn;
  }

  literal(v: unknown): C {
    if (typeof v === "string") return { fn: () => v, type: "string" };
    if (typeof v === "bigint") return { fn: () => v, type: "int" };
    if (typeof v === "number") return { fn: () => v, type: "double" };
    if (typeof v === "boolean") return { fn: () => v, type: "bool" };
    return bail();
  }

  ident(name: string, scope: Scope): C {
    const local = scope.names.get(name);
    if (local) {
      const slot = local.slot;
      return { fn: (_v, l) => l[slot], type: local.type };
    }
    if (name in VARIABLE_SCHEMAS) return { fn: (v) => v[name], type: { struct: name } };
    return bail();
  }

  select(target: ASTNode, field: string, scope: Scope): C {
    if (target.op === "id" && !scope.names.has(target.args) && target.args in VARIABLE_SCHEMAS) {
      const root = target.args;
      const schema = VARIABLE_SCHEMAS[root as keyof typeof VARIABLE_SCHEMAS] as Record<string, string>;
      const ft = schema[field];
      if (ft === undefined) bail();
      const type = parseType(ft);
      return { fn: (v) => (v[root] as Record<string, unknown>)[field], type };
    }
    const t = this.compile(target, scope);
    if (typeof t.type === "object" && "map" in t.type) {
      if (t.type.map[0] !== "string") bail();
      const get = t.fn;
      return { fn: (v, l) => mapGet(get(v, l), field), type: t.type.map[1] };
    }
    return bail();
  }

  index(target: ASTNode, key: ASTNode, scope: Scope): C {
    const t = this.compile(target, scope);
    const k = this.compile(key, scope);
    if (typeof t.type === "object" && "list" in t.type) {
      if (k.type !== "int") bail();
      const get = t.fn;
      const idx = k.fn;
      return {
        fn: (v, l) => {
          const list = get(v, l) as unknown[];
          const i = idx(v, l) as bigint;
          if (i < 0n || i >= BigInt(list.length)) throw new CelEvalError(`index out of bounds: ${i}`);
          return list[Number(i)];
        },
        type: t.type.list,
      };
    }
    if (typeof t.type === "object" && "map" in t.type) {
      if (!same(k.type, t.type.map[0])) bail();
      const get = t.fn;
      const key = k.fn;
      return { fn: (v, l) => mapGet(get(v, l), key(v, l)), type: t.type.map[1] };
    }
    return bail();
  }

  list(items: ASTNode[], scope: Scope): C {
    const cs = items.map((i) => this.compile(i, scope));
    if (cs.length === 0) return bail();
    const et = cs[0]!.type;
    if (!isPrim(et) || cs.some((c) => !same(c.type, et))) bail();
    // Literal lists are built once.
    if (items.every((i) => i.op === "value")) {
      const values = cs.map((c) => c.fn({}, []));
      return { fn: () => values, type: { list: et } };
    }
    const fns = cs.map((c) => c.fn);
    return { fn: (v, l) => fns.map((f) => f(v, l)), type: { list: et } };
  }

  equality(a: ASTNode, b: ASTNode, negate: boolean, scope: Scope): C {
    const x = this.compile(a, scope);
    const y = this.compile(b, scope);
    if (!same(x.type, y.type)) bail();
    const fx = x.fn;
    const fy = y.fn;
    if (isPrim(x.type)) {
      return { fn: negate ? (v, l) => fx(v, l) !== fy(v, l) : (v, l) => fx(v, l) === fy(v, l), type: "bool" };
    }
    if (typeof x.type === "object" && "list" in x.type && isPrim(x.type.list)) {
      const eq = (p: unknown[], q: unknown[]) => p.length === q.length && p.every((e, i) => e === q[i]);
      return { fn: (v, l) => eq(fx(v, l) as unknown[], fy(v, l) as unknown[]) !== negate, type: "bool" };
    }
    return bail();
  }

  relation(op: "<" | "<=" | ">" | ">=", a: ASTNode, b: ASTNode, scope: Scope): C {
    const x = this.compile(a, scope);
    const y = this.compile(b, scope);
    if (!same(x.type, y.type) || (x.type !== "int" && x.type !== "double")) bail();
    const fx = x.fn as (v: Vars, l: unknown[]) => number | bigint;
    const fy = y.fn as (v: Vars, l: unknown[]) => number | bigint;
    switch (op) {
      case "<":
        return { fn: (v, l) => fx(v, l) < fy(v, l), type: "bool" };
      case "<=":
        return { fn: (v, l) => fx(v, l) <= fy(v, l), type: "bool" };
      case ">":
        return { fn: (v, l) => fx(v, l) > fy(v, l), type: "bool" };
      case ">=":
        return { fn: (v, l) => fx(v, l) >= fy(v, l), type: "bool" };
    }
  }

  membership(a: ASTNode, b: ASTNode, scope: Scope): C {
    const x = this.compile(a, scope);
    const y = this.compile(b, scope);
    const fx = x.fn;
    const fy = y.fn;
    if (typeof y.type === "object" && "list" in y.type) {
      if (!isPrim(x.type) || !same(x.type, y.type.list)) bail();
      return { fn: (v, l) => (fy(v, l) as unknown[]).includes(fx(v, l)), type: "bool" };
    }
    if (typeof y.type === "object" && "map" in y.type) {
      if (!same(x.type, y.type.map[0])) bail();
      return { fn: (v, l) => mapHas(fy(v, l), fx(v, l)), type: "bool" };
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
    const fr = r.fn;
    if (r.type === "string") {
      if (cs.length === 1 && cs[0]!.type === "string") {
        const fa = cs[0]!.fn;
        switch (name) {
          case "startsWith":
            return { fn: (v, l) => (fr(v, l) as string).startsWith(fa(v, l) as string), type: "bool" };
          case "endsWith":
            return { fn: (v, l) => (fr(v, l) as string).endsWith(fa(v, l) as string), type: "bool" };
          case "contains":
            return { fn: (v, l) => (fr(v, l) as string).includes(fa(v, l) as string), type: "bool" };
          case RE2_MATCHES_FN: {
            const re2 = this.re2;
            return { fn: (v, l) => re2.matches(fr(v, l) as string, fa(v, l) as string), type: "bool" };
          }
        }
      }
      if (name === "size" && cs.length === 0) return { fn: (v, l) => BigInt(codePoints(fr(v, l) as string)), type: "int" };
    }
    if (name === "size" && cs.length === 0 && typeof r.type === "object") return this.sizeOf(r);
    return bail();
  }

  sizeOf(r: C): C {
    const fr = r.fn;
    if (r.type === "string") return { fn: (v, l) => BigInt(codePoints(fr(v, l) as string)), type: "int" };
    if (typeof r.type === "object" && "list" in r.type) return { fn: (v, l) => BigInt((fr(v, l) as unknown[]).length), type: "int" };
    if (typeof r.type === "object" && "map" in r.type) return { fn: (v, l) => BigInt(mapKeys(fr(v, l)).length), type: "int" };
    return bail();
  }

  call(name: string, args: ASTNode[], scope: Scope): C {
    if (name === "has" && args.length === 1 && args[0]!.op === ".") {
      const [target, field] = args[0]!.args as [ASTNode, string];
      const t = this.compile(target, scope);
      if (typeof t.type === "object" && "map" in t.type && t.type.map[0] === "string") {
        const ft = t.fn;
        return { fn: (v, l) => mapHas(ft(v, l), field), type: "bool" };
      }
      return bail();
    }
    const cs = args.map((a) => this.compile(a, scope));
    if (name === "size" && cs.length === 1) return this.sizeOf(cs[0]!);
    if (name === "matches" && cs.length === 2 && cs.every((c) => c.type === "string")) {
      const [fs, fp] = [cs[0]!.fn, cs[1]!.fn];
      const re2 = this.re2;
      return { fn: (v, l) => re2.matches(fs(v, l) as string, fp(v, l) as string), type: "bool" };
    }
    return bail();
  }

  sets(name: string, args: ASTNode[], scope: Scope): C {
    if (args.length !== 2) bail();
    const [a, b] = args.map((x) => this.compile(x, scope)) as [C, C];
    for (const c of [a, b]) if (!(typeof c.type === "object" && "list" in c.type && isPrim(c.type.list))) bail();
    const fa = a.fn;
    const fb = b.fn;
    switch (name) {
      case "intersects":
        return {
          fn: (v, l) => {
            const x = fa(v, l) as unknown[];
            const y = fb(v, l) as unknown[];
            for (const e of x) if (y.includes(e)) return true;
            return false;
          },
          type: "bool",
        };
      case "contains":
        return { fn: (v, l) => (fb(v, l) as unknown[]).every((e) => (fa(v, l) as unknown[]).includes(e)), type: "bool" };
      case "equivalent":
        return {
          fn: (v, l) => {
            const x = new Set(fa(v, l) as unknown[]);
            const y = new Set(fb(v, l) as unknown[]);
            return x.size === y.size && [...x].every((e) => y.has(e));
          },
          type: "bool",
        };
      default:
        return bail();
    }
  }

  comprehension(kind: "exists" | "all" | "exists_one", range: ASTNode, variable: ASTNode, body: ASTNode, scope: Scope): C {
    if (variable.op !== "id") bail();
    const r = this.compile(range, scope);
    let elemType: T;
    let elems: (x: unknown) => unknown[];
    if (typeof r.type === "object" && "list" in r.type) {
      elemType = r.type.list;
      elems = (x) => x as unknown[];
    } else if (typeof r.type === "object" && "map" in r.type) {
      elemType = r.type.map[0];
      elems = mapKeys;
    } else return bail();
    const slot = scope.next;
    const inner: Scope = { names: new Map(scope.names), next: slot + 1 };
    inner.names.set(variable.args, { slot, type: elemType });
    const pred = this.bool(body, inner);
    const fr = r.fn;
    if (kind === "exists_one") {
      return {
        fn: (v, l) => {
          let count = 0;
          for (const e of elems(fr(v, l))) {
            l[slot] = e;
            if (pred(v, l) === true) count++;
          }
          return count === 1;
        },
        type: "bool",
      };
    }
    // exists folds with ||, all with &&: a deciding element wins over an
    // erroring one; an error is raised only if nothing decided.
    const decider = kind === "exists";
    return {
      fn: (v, l) => {
        let err: unknown;
        for (const e of elems(fr(v, l))) {
          l[slot] = e;
          try {
            if (pred(v, l) === decider) return decider;
          } catch (x) {
            err ??= x;
          }
        }
        if (err !== undefined) throw err;
        return !decider;
      },
      type: "bool",
    };
  }
}

/** A compiled condition: `(vars) → value`, throwing on CEL evaluation errors. */
export type JitProgram = (vars: Vars) => unknown;

/**
 * Compiles a type-checked AST (with the RE2 `matches` rewrite already applied)
 * to closures, or returns undefined when it uses anything outside the subset.
 */
export function jitCompile(ast: ASTNode, re2: Re2Cache): JitProgram | undefined {
  let c: C;
  try {
    c = new Compiler(re2).compile(ast, { names: new Map(), next: 0 });
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
  const fn = c.fn;
  // Comprehension locals live in slots of one array per program: evaluation
  // is synchronous and never re-enters the same program, so it is reused.
  const locals: unknown[] = [];
  return (vars) => fn(vars, locals);
}
