/**
 * `credential "google_gke_credential"`: a Google service-account key that
 * mints short-lived OAuth access tokens for a GKE API server. Everything
 * needed is in the JSON key (secret store); the cluster is the endpoint's.
 *
 * Older reference releases required `cluster`, `location` and `project`
 * here; newer ones take no fields. Both shapes load: the fields are
 * optional and informational.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";

/** The spec of `credential "google_gke_credential"`; registered in ../registry.ts. */
export const googleGkeCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "google_gke_credential",
  doc:
    "A GCP service-account JSON key (secret store) from which the gateway mints access tokens for a GKE cluster's " +
    "`kubernetes` endpoint.",
  discriminators: [],
  fields: {
    cluster: { type: "string", doc: "Accepted for older configs: the GKE cluster name. Informational." },
    location: { type: "string", doc: "Accepted for older configs: the cluster's region or zone. Informational." },
    project: { type: "string", doc: "Accepted for older configs: the GCP project. Informational." },
    impersonate_service_account: {
      type: "string",
      doc: "Accepted for older configs: a service account to impersonate. Informational.",
    },
    ...CREDENTIAL_COMMON_FIELDS,
  },
};
