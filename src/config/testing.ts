/**
 * Test helpers: load configs from in-memory files, so loader and compiler
 * tests read as "this HCL ⇒ these diagnostics / this policy".
 */
import { formatDiagnostic, type Diagnostic } from "./diagnostics.js";
import type { LoadIO } from "./load.js";
import { loadPolicy, type PolicyLoadResult } from "./policy.js";
import type { CompiledPolicy } from "../policy/compiled.js";

/** A transport-complete gateway block, for configs that are about something else. */
export const GATEWAY = `
gateway {
  state_dir  = "/tmp/clawpatrol-test"
  public_url = "https://gw.example.test"
  wireguard { subnet_cidr = "10.55.0.0/24" }
}
`;

/** In-memory filesystem: paths ending in `/` list the files under them. */
export function memIO(files: Record<string, string>): LoadIO {
  return {
    readFile: (p) => files[p],
    listConfigDir(p) {
      const dir = p.endsWith("/") ? p : `${p}/`;
      const names = Object.keys(files)
        .filter((f) => f.startsWith(dir) && !f.slice(dir.length).includes("/") && f.endsWith(".hcl"))
        .sort();
      return names.length > 0 || Object.keys(files).some((f) => f.startsWith(dir)) ? names : undefined;
    },
  };
}

/** Loads a single-file config (`schema_version = 1` is prepended unless present). */
export function loadText(hcl: string, extraFiles: Record<string, string> = {}): PolicyLoadResult {
  const src = /schema_version/.test(hcl) ? hcl : `schema_version = 1\n${hcl}`;
  return loadPolicy("cfg/gateway.hcl", memIO({ "cfg/gateway.hcl": src, ...extraFiles }));
}

/** Error diagnostics of a config, formatted one per line. */
export function errorsOf(hcl: string, extraFiles: Record<string, string> = {}): string[] {
  return loadText(hcl, extraFiles)
    .diagnostics.filter((d) => d.severity === "error")
    .map(formatDiagnostic);
}

/** Compiles a config that must be valid; fails loudly with its diagnostics otherwise. */
export function policyOf(hcl: string): CompiledPolicy {
  const r = loadText(hcl);
  if (!r.policy) {
    throw new Error(`config has errors:\n${r.diagnostics.map(formatDiagnostic).join("\n")}`);
  }
  return r.policy;
}

export type { Diagnostic };
