/**
 * `credential "mtls_credential"`: A client certificate and key (and optional CA) presented on the upstream
 * TLS handshake, e.g. to a self-hosted Kubernetes API server.
 *
 * Slots: `cert` (PEM chain, leaf first), `key` (unencrypted PEM private
 * key), `ca` (optional PEM bundle the upstream is verified against) —
 * `CLAWPATROL_SECRET_<NAME>_CERT` / `_KEY` / `_CA`, usually `@/path.pem`.
 * Nothing goes into the request, so there is no HTTP hook and no
 * placeholder; the pair is checked before use so a mismatch is a clear
 * log line rather than a TLS alert.
 */
import type { CredentialTypeSpec } from "../schema.js";
import { CREDENTIAL_COMMON_FIELDS } from "../common.js";
import { readSlots } from "./http.js";
import { checkClientPair } from "./upstream-tls.js";

/** The spec of `credential "mtls_credential"`; registered in ../registry.ts. */
export const mtlsCredential: CredentialTypeSpec = {
  kind: "credential",
  type: "mtls_credential",
  doc: "A TLS client certificate + key (+ optional CA bundle) presented to the upstream. Nothing is sent in headers, so it has no placeholder.",
  discriminators: [],
  fields: { ...CREDENTIAL_COMMON_FIELDS },
  upstreamTls: {
    slots: [
      { name: "cert", required: true, doc: "Client certificate chain, PEM, leaf first." },
      { name: "key", required: true, doc: "The certificate's private key, unencrypted PEM (PKCS#8, PKCS#1 or SEC1)." },
      { name: "ca", doc: "PEM bundle trusted for the upstream's certificate, instead of the endpoint's `ca_cert` / system roots. Optional." },
    ],
    resolve(ctx) {
      const r = readSlots(ctx.secret, ["cert", "key"]);
      if (!r.ok) return r;
      const certPem = r.values["cert"]!;
      const keyPem = r.values["key"]!;
      const bad = checkClientPair(certPem, keyPem);
      if (bad !== undefined) return { ok: false, error: bad };
      const caPem = ctx.secret.get("ca");
      return { ok: true, tls: caPem ? { certPem, keyPem, caPem } : { certPem, keyPem } };
    },
  },
};
