/**
 * `credential "aws_credential"`: static AWS keys. On a kubernetes endpoint the gateway mints an EKS
 * bearer from them (cluster and region come from the endpoint); on an
 * https endpoint it re-signs the agent's SigV4 requests. The agent only
 * ever signs with placeholder keys.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "aws_credential"`; registered in ../registry.ts. */
export const awsCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "aws_credential",
  doc: "AWS access keys (access key id, secret, optional session token \u2014 all in the secret store). Mints EKS bearers on `kubernetes` endpoints and re-signs SigV4 requests on `https` endpoints.",
  discriminators: [],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
};
