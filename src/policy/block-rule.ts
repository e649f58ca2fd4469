/**
 * "Block requests like this": a deny rule, as HCL ready to append to the
 * config, matching requests that look like a recorded one.
 *
 * "Like this" per family — narrow enough not to catch unrelated traffic,
 * wide enough to survive ids in query strings and bodies:
 * - http: method + exact path (the host is the rule's endpoint);
 * - k8s: verb + resource + namespace (any object name);
 * - sql: verb + every table the statement touched;
 * - ssh: verb + the exact command / subsystem / forward target.
 *
 * The rule gets the first free name `block-<family>-<n>` and a priority
 * above every rule of its endpoint, so the allow rule that let the request
 * through does not keep winning. Recorded values are attacker-controlled
 * (an agent chose the path), so every literal is escaped twice: as a CEL
 * string inside the condition, then the condition and the reason as HCL
 * quoted strings (including `${` and `%{`, which HCL would read as a
 * template).
 */
import type { ActionSummary } from "../store/actions.js";
import type { RulePreview } from "../web/api.js";
import type { CompiledPolicy } from "./compiled.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/**
 * The body of a double-quoted literal: backslash, quote and the usual
 * control escapes, other code points matching `escapeAsU` as `\uXXXX`.
 * CEL and HCL share this much; each adds its own extra rules.
 */
function quotedBody(s: string, escapeAsU: (c: number) => boolean): string {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === '"') out += '\\"';
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (escapeAsU(c)) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return out;
}

/** A CEL double-quoted string literal for any text. */
export function celString(s: string): string {
  return `"${quotedBody(s, (c) => c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0) || c === 0x2028 || c === 0x2029)}"`;
}

/** An HCL quoted string for any text (template sequences escaped). */
export function hclString(s: string): string {
  // `${` and `%{` open template interpolations/directives; doubling the sigil makes them literal.
  return `"${quotedBody(s, (c) => c < 0x20 || c === 0x7f).replace(/([$%])\{/g, "$1$1{")}"`;
}

/** The condition and the words for it, per family. */
function conditionOf(row: ActionSummary): { condition: string; description: string } {
  const f = isObj(row.facets[row.family]) ? (row.facets[row.family] as Obj) : undefined;
  if (!f) throw new Error(`action ${row.id} has no recorded ${row.family || "family"} facets; cannot derive a rule`);
  const eq = (field: string, v: string) => `${field} == ${celString(v)}`;
  switch (row.family) {
    case "http": {
      const method = str(f["method"]).toLowerCase();
      const path = str(f["path"]);
      return { condition: `${eq("http.method", method)} && ${eq("http.path", path)}`, description: `${method.toUpperCase()} ${path}` };
    }
    case "k8s": {
      const verb = str(f["verb"]);
      const resource = str(f["resource"]);
      const ns = str(f["namespace"]);
      return {
        condition: [eq("k8s.verb", verb), eq("k8s.resource", resource), eq("k8s.namespace", ns)].join(" && "),
        description: `${verb} ${resource || "(non-resource)"} in ${ns ? `namespace ${ns}` : "any/cluster scope"}`,
      };
    }
    case "sql": {
      const verb = str(f["verb"]);
      const tables = Array.isArray(f["tables"]) ? (f["tables"] as unknown[]).filter((t): t is string => typeof t === "string") : [];
      if (verb === "") throw new Error(`action ${row.id}: the statement's verb was not recorded (unparseable); cannot derive a rule`);
      const parts = [eq("sql.verb", verb), ...tables.map((t) => `${celString(t)} in sql.tables`)];
      return { condition: parts.join(" && "), description: `${verb.toUpperCase()}${tables.length ? ` on ${tables.join(", ")}` : ""}` };
    }
    case "ssh": {
      const verb = str(f["verb"]);
      const parts = [eq("ssh.verb", verb)];
      let what = verb;
      if (verb === "exec") {
        parts.push(eq("ssh.command", str(f["command"])));
        what = `exec ${str(f["command"])}`;
      } else if (verb === "subsystem") {
        parts.push(eq("ssh.subsystem", str(f["subsystem"])));
        what = `subsystem ${str(f["subsystem"])}`;
      } else if (verb === "forward") {
        const port = typeof f["forward_port"] === "number" && Number.isSafeInteger(f["forward_port"]) ? f["forward_port"] : 0;
        parts.push(eq("ssh.forward_host", str(f["forward_host"])), `ssh.forward_port == ${port}`);
        what = `forward ${str(f["forward_host"])}:${port}`;
      }
      return { condition: parts.join(" && "), description: what };
    }
    default:
      throw new Error(`action ${row.id}: unknown family ${JSON.stringify(row.family)}`);
  }
}

/** A deny rule matching requests like `row`, named and prioritised to fit `policy`. */
export function blockRuleFor(row: ActionSummary, policy: CompiledPolicy): RulePreview {
  const endpoint = row.endpoint;
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(endpoint)) {
    throw new Error(`action ${row.id} was not claimed by an endpoint; cannot derive a rule`);
  }
  const { condition, description: what } = conditionOf(row);
  const taken = new Set(policy.config.rules.map((r) => r.name));
  let n = 1;
  while (taken.has(`block-${row.family}-${n}`)) n++;
  const name = `block-${row.family}-${n}`;
  const epName = endpoint.slice(endpoint.indexOf(".") + 1);
  const priorities = policy.config.rules.filter((r) => r.endpoints.some((e) => e.name === epName)).map((r) => r.priority);
  const priority = Math.max(0, ...priorities) + 1;
  const description = `${what} on ${endpoint}`;
  const reason = Array.from(`blocked: requests like ${what}`).slice(0, 200).join("");
  const hcl =
    `rule ${hclString(name)} {\n` +
    `  endpoint  = ${endpoint}\n` +
    `  priority  = ${priority}\n` +
    `  condition = ${hclString(condition)}\n` +
    `  verdict   = "deny"\n` +
    `  reason    = ${hclString(reason)}\n` +
    `}\n`;
  return { hcl, name, endpoint, condition, description };
}
