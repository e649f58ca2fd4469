/**
 * The loaded configuration: every block decoded, every reference resolved to
 * the declaration it names. This is what the (pure) compiler consumes; it
 * still carries source ranges so compile-time problems — a CEL type error, an
 * ambiguous credential binding — point at the right line.
 */
import type { SourceRange } from "./diagnostics.js";
import type { Family } from "../policy/action.js";
import type {
  ApproverTypeSpec,
  CredentialTypeSpec,
  DecodedBlock,
  DecodedSingleton,
  Discriminator,
  EndpointTypeSpec,
  TunnelTypeSpec,
} from "../types/schema.js";

export interface EndpointDecl {
  type: string;
  name: string;
  spec: EndpointTypeSpec;
  family: Family;
  block: DecodedBlock;
  /** Host entries as written (`api.github.com`, `*.example.com`, `db:5432`). */
  hosts: string[];
  defaultPort: number;
  tunnel?: TunnelDecl;
}

export type Discriminators = Partial<Record<Discriminator, string>>;

export interface CredentialDecl {
  type: string;
  name: string;
  spec: CredentialTypeSpec;
  block: DecodedBlock;
  /** Endpoints this credential authenticates against (`endpoint` / `endpoints`). */
  endpoints: EndpointDecl[];
  /** Discriminators set on the credential block itself. */
  discriminators: Discriminators;
}

export interface ApproverDecl {
  type: string;
  name: string;
  spec: ApproverTypeSpec;
  block: DecodedBlock;
  credential?: CredentialDecl;
}

export interface TunnelDecl {
  type: string;
  name: string;
  spec: TunnelTypeSpec;
  block: DecodedBlock;
}

export type Verdict = "allow" | "deny";

export interface RuleDecl {
  name: string;
  endpoints: EndpointDecl[];
  priority: number;
  disabled: boolean;
  condition: string;
  conditionRange?: SourceRange;
  credential?: CredentialDecl;
  verdict?: Verdict;
  approve: ApproverDecl[];
  reason?: string;
  /** `rule "name"` — where rule-level diagnostics point. */
  defRange: SourceRange;
  /** Declaration order across all files (files sorted by name), the priority tie-breaker. */
  order: number;
}

export interface ProfileEntry {
  credential: CredentialDecl;
  /** Discriminators written on the profile entry (`{ placeholder = "PH_x", credential = ... }`). */
  discriminators: Discriminators;
  range: SourceRange;
}

export interface ProfileDecl {
  name: string;
  entries: ProfileEntry[];
  defRange: SourceRange;
}

export interface PluginDecl {
  name: string;
  block: DecodedSingleton;
}

/** Policy defaults (`defaults {}`), with the values that apply when unset. */
export interface Defaults {
  unknownHost: "passthrough" | "deny";
  llmFailMode: "open" | "closed";
  /** Seconds. */
  llmCacheTtl: number;
  /** Seconds. */
  humanTimeout: number;
  humanOnTimeout: "deny" | "allow";
  /** IANA zone for `now.*` in rules; "UTC" by default. */
  timezone: string;
}

export const DEFAULT_DEFAULTS: Defaults = {
  unknownHost: "passthrough",
  llmFailMode: "closed",
  llmCacheTtl: 300,
  humanTimeout: 600,
  humanOnTimeout: "deny",
  timezone: "UTC",
};

export interface Config {
  /** Files the config was loaded from, in load order. */
  files: string[];
  schemaVersion?: number;
  gateway?: DecodedSingleton;
  defaults: Defaults;
  endpoints: EndpointDecl[];
  credentials: CredentialDecl[];
  approvers: ApproverDecl[];
  tunnels: TunnelDecl[];
  rules: RuleDecl[];
  profiles: ProfileDecl[];
  plugins: PluginDecl[];
}
