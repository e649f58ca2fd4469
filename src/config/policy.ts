/**
 * Config path → compiled policy, the one entry point `validate`, `test` and
 * the gateway share so they can never disagree about what a config means.
 */
import { hasErrors, type Diagnostic } from "./diagnostics.js";
import { loadConfig, nodeIO, type LoadIO } from "./load.js";
import { compilePolicy } from "./compile.js";
import type { Config } from "./model.js";
import type { CompiledPolicy } from "../policy/compiled.js";

export interface PolicyLoadResult {
  /** Present when the config loaded and compiled without errors. */
  policy?: CompiledPolicy;
  /** Present when the config could be read and decoded (possibly with errors). */
  config?: Config;
  diagnostics: Diagnostic[];
  /** Files the config came from, in load order. */
  files: string[];
}

/** Loads, resolves and compiles a config file or directory. */
export function loadPolicy(path: string, io: LoadIO = nodeIO): PolicyLoadResult {
  const loaded = loadConfig(path, io);
  const files = loaded.config?.files ?? [];
  if (!loaded.config) return { diagnostics: loaded.diagnostics, files };
  const compiled = compilePolicy(loaded.config);
  const diagnostics = [...loaded.diagnostics, ...compiled.diagnostics];
  const out: PolicyLoadResult = { config: loaded.config, diagnostics, files };
  if (!hasErrors(diagnostics)) out.policy = compiled.policy;
  return out;
}
