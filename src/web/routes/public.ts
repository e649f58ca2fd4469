/**
 * Agent-facing paths, no auth: the CA certificate agents must trust, public
 * facts about the gateway, liveness. Byte-compatible with the info listener
 * these replaced (agents and `clawpatrol join` read them).
 */
import type { HandlerTable } from "../context.js";

export const publicRoutes: HandlerTable = {
  "GET /ca.crt": ({ res, deps }) => {
    res.writeHead(200, { "content-type": "application/x-pem-file", "content-disposition": 'attachment; filename="clawpatrol-ca.crt"' });
    res.end(deps.ca.certPem);
  },
  "GET /info": ({ res, deps }) => {
    const wg = deps.wireguard;
    const hostKeys = deps.sshHostKeys?.() ?? [];
    const body = {
      product: "clawpatrol",
      ca: { fingerprint_sha256: deps.ca.fingerprint256, subject: deps.ca.subject, url: "/ca.crt" },
      listeners: deps.listeners(),
      ...(wg
        ? {
            wireguard: {
              public_key: wg.publicKey,
              endpoint: wg.endpoint ?? null,
              listen_port: wg.listenPort,
              subnet: wg.subnetCidr,
              address: wg.address,
              dns: [wg.address],
              enroll_url: "/api/enroll",
            },
          }
        : {}),
      // Public halves only: what an agent's known_hosts needs to pin each SSH endpoint.
      ...(hostKeys.length > 0
        ? { ssh: { host_keys: hostKeys.map((k) => ({ endpoint: k.endpoint, hosts: k.hosts, public_key: k.publicKey, fingerprint: k.fingerprint })) } }
        : {}),
    };
    res.writeHead(200, { "content-type": "application/json" });
    res.end(`${JSON.stringify(body, null, 2)}\n`);
  },
  "GET /healthz": ({ res }) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}\n');
  },
};
