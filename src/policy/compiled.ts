/**
 * The compiled policy: the read-only structure the decision function walks
 * for every request. Built once per (re)load by ../config/compile.ts; nothing
 * here is parsed or sorted at request time.
 */
import type { Config, Defaults, Discriminators, EndpointDecl } from "../config/model.js";
import type { HostIndex } from "../config/hosts.js";
import type { CompiledCondition } from "./cel/compile.js";
import type { Family } from "./action.js";

export interface CompiledRule {
  name: string;
  priority: number;
  /** Declaration order (the tie-breaker within a priority). */
  order: number;
  condition: CompiledCondition;
  /** Credential predicate: the request must have been dispatched against this credential. */
  credential?: string;
  verdict?: "allow" | "deny";
  /** Approver chain (names), when the outcome is approval. */
  approve: string[];
  reason?: string;
}

export interface CompiledEndpoint {
  type: string;
  name: string;
  /** `type.name`, the typed reference form. */
  key: string;
  family: Family;
  /** Enabled rules, sorted by priority (desc), then declaration order. */
  rules: CompiledRule[];
  /**
   * The same walk narrowed by the family's verb field (see
   * `CompiledCondition.guard`): for a verb value, only the rules that can
   * match it, in the same order. Values not listed use `unguarded`.
   */
  byGuard: Map<string, CompiledRule[]>;
  /** Rules without a guard (the walk for verb values no guard names). */
  unguarded: CompiledRule[];
  /** Every variable path any rule reads (only these facets are prepared for CEL). */
  reads: Set<string>;
  /** Whether any rule reads `now.*` (the clock is only consulted then). */
  readsNow: boolean;
  /** Context variables some rule reads (`op`, `agent`, `now`); only these are built per decision. */
  readsContext: { op: boolean; agent: boolean; now: boolean };
  /** Whether some rule is evaluated by cel-js (needs typed wrappers), not compiled closures. */
  needsCelJs: boolean;
  decl: EndpointDecl;
}

/** One way a profile may authenticate at an endpoint. */
export interface DispatchEntry {
  credential: string;
  credentialType: string;
  /** Effective discriminators (profile entry overrides the credential block). */
  discriminators: Discriminators;
  /** No discriminator: the (profile, endpoint)'s catch-all credential. */
  fallback: boolean;
}

export interface CompiledProfile {
  name: string;
  /** Endpoints reachable through the profile's credentials, by name. */
  endpoints: Map<string, CompiledEndpoint>;
  hosts: HostIndex<CompiledEndpoint>;
  /** Per endpoint name: the credentials the profile may use there. */
  dispatch: Map<string, DispatchEntry[]>;
}

export interface CompiledPolicy {
  endpoints: Map<string, CompiledEndpoint>;
  profiles: Map<string, CompiledProfile>;
  /** Every endpoint's hosts, for callers without a profile (`clawpatrol test`). */
  hosts: HostIndex<CompiledEndpoint>;
  /** Per endpoint name: every credential binding it (profile-less dispatch). */
  dispatch: Map<string, DispatchEntry[]>;
  defaults: Defaults;
  config: Config;
}
