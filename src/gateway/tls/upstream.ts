/**
 * TLS options for the gateway's own connections to upstream servers. The
 * agent trusts the gateway, so the gateway must do the verification the
 * agent can no longer do itself: these options never turn it off.
 */
import { isIP } from "node:net";
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from "node:tls";

/** What an endpoint (and its credential) says about one upstream handshake. */
export interface UpstreamTlsParams {
  /**
   * The name the agent asked for (SNI / endpoint host). The certificate is
   * always checked against this name, whatever address is actually dialed
   * (e.g. via the gateway's `resolve` map). IPv6 may be bracketed.
   */
  servername: string;
  /**
   * The endpoint's `ca_cert` PEM. When given it is the ONLY trust anchor for
   * this upstream, not an addition to the system roots: an endpoint that
   * names its private CA should not also accept any public CA's certificate
   * for that name. Omitted: Node's default roots (the Mozilla bundle Node
   * ships, plus `NODE_EXTRA_CA_CERTS`; the OpenSSL system store instead when
   * Node runs with `--use-openssl-ca`).
   */
  caPem?: string;
  /** `mtls_credential`: client certificate (chain) and key presented upstream. */
  clientCert?: { certPem: string; keyPem: string };
  /** ALPN protocols to offer, in preference order. */
  alpn?: string[];
}

/** The upstream's trust configuration is unusable (fail closed, never fall back). */
export class UpstreamTlsConfigError extends Error {
  override name = "UpstreamTlsConfigError";
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/g;

/**
 * Options for `tls.connect` to an upstream (add `host`/`port` or `socket`).
 * Verification is on (`rejectUnauthorized`), the host name is checked
 * against `servername`, TLS 1.2 is the floor, and SNI is sent for names
 * (never for IP literals, which RFC 6066 forbids in SNI).
 */
export function upstreamTlsOptions(p: UpstreamTlsParams): ConnectionOptions {
  let name = p.servername;
  if (name.startsWith("[") && name.endsWith("]")) name = name.slice(1, -1);
  if (name.length === 0) throw new UpstreamTlsConfigError("upstream TLS needs a server name to verify");
  const ip = isIP(name) !== 0;

  const opts: ConnectionOptions = {
    rejectUnauthorized: true,
    minVersion: "TLSv1.2",
    // Pin the identity check to the logical name; Node would otherwise fall
    // back to `host` (the dialed address) when no servername is set.
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
  };
  if (!ip) opts.servername = name;
  if (p.caPem !== undefined) {
    const certs = p.caPem.match(CERT_BLOCK);
    if (!certs || certs.length === 0) {
      // An empty or garbled ca_cert must not silently mean "system roots".
      throw new UpstreamTlsConfigError("ca_cert contains no PEM certificate");
    }
    opts.ca = certs;
  }
  if (p.clientCert) {
    opts.cert = p.clientCert.certPem;
    opts.key = p.clientCert.keyPem;
  }
  if (p.alpn && p.alpn.length > 0) opts.ALPNProtocols = [...p.alpn];
  return opts;
}
