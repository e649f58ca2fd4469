/**
 * `credential "clickhouse_credential"`: a ClickHouse user and password for
 * both ClickHouse endpoint types. Native: substituted into the Hello
 * packet. HTTPS: sent as Basic auth, with any `user`/`password` query
 * parameters stripped so secrets never sit in URLs.
 *
 * Dispatch: the agent declares user and database on the wire, so those
 * are the discriminators (either or both).
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "clickhouse_credential"`; registered in ../registry.ts. */
export const clickhouseCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "clickhouse_credential",
  doc:
    "A ClickHouse login for `clickhouse_native` and `clickhouse_https` endpoints; one credential may bind both " +
    "(`endpoints = [...]`). The password lives in the secret store.",
  discriminators: ["user", "database"],
  fields: {
    user: { type: "string", doc: "The upstream ClickHouse user the gateway logs in as; also a dispatch key matched against the agent's user." },
    database: {
      type: "string",
      doc: "Limit this credential to requests for this database. Unset: any database (the catch-all).",
    },
    ...CREDENTIAL_COMMON_FIELDS,
  },
};
