/**
 * `credential "postgres_credential"`: the role the gateway logs in as on a
 * Postgres endpoint. The password is the secret; the gateway answers the
 * agent's auth itself and runs SCRAM/cleartext upstream.
 *
 * Dispatch: Postgres tells the gateway who the agent is before any secret
 * changes hands — the StartupMessage carries `user` and `database` — so
 * those are this type's main discriminators. As an extension, a profile may
 * also tell them apart by `placeholder`: the gateway then asks the agent
 * for a password and matches the placeholder it sends (the reference
 * rejects `placeholder` here).
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "postgres_credential"`; registered in ../registry.ts. */
export const postgresCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "postgres_credential",
  doc:
    "A Postgres login: the role in `user`, the password in the secret store. When a profile binds several at one " +
    "endpoint, the agent's StartupMessage `user` (and `database`) picks one.",
  discriminators: ["user", "database", "placeholder"],
  fields: {
    user: {
      type: "string",
      doc:
        "The upstream role the gateway authenticates as; also the dispatch key matched against the user the agent " +
        "connects as. When unset, the agent's user is passed through.",
    },
    database: {
      type: "string",
      doc: "Limit this credential to sessions whose StartupMessage names this database. Unset: any database (the catch-all).",
    },
    ...CREDENTIAL_COMMON_FIELDS,
  },
};
