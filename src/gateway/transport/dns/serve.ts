/**
 * The responder on real sockets: one UDP and one TCP listener on the same
 * port. The tunnel feeds the responder from its netstack instead; this is
 * for tests, tools (`dig @127.0.0.1 -p N`) and single-host setups.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, isIPv6, type Server, type Socket } from "node:net";
import type { TunnelDns } from "./responder.js";

export interface DnsListener {
  host: string;
  /** The port both listeners are bound to. */
  port: number;
  close(): Promise<void>;
}

/** Binds UDP and TCP on `host:port` (port 0: a free one, the same for both). */
export async function serveTunnelDns(dns: TunnelDns, host = "127.0.0.1", port = 0): Promise<DnsListener> {
  for (let attempt = 0; ; attempt++) {
    const udp = createSocket(isIPv6(host) ? "udp6" : "udp4");
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind(port, host, () => {
          udp.off("error", reject);
          resolve();
        });
      });
      const bound = udp.address().port;
      const conns = new Set<Socket>();
      const tcp = createServer((sock) => {
        conns.add(sock);
        sock.once("close", () => conns.delete(sock));
        dns.handleTcp(sock);
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(bound, host, () => {
          tcp.off("error", reject);
          resolve();
        });
      });
      udp.on("error", () => {});
      udp.on("message", (msg, rinfo) => dns.handleUdp(msg, (a) => udp.send(a, rinfo.port, rinfo.address)));
      return {
        host,
        port: bound,
        close: () => {
          for (const c of conns) c.destroy();
          return closeBoth(udp, tcp);
        },
      };
    } catch (e) {
      try {
        udp.close();
      } catch {
        /* not bound */
      }
      // A random UDP port may be taken on TCP: try another unless the caller named the port.
      if (port !== 0 || attempt >= 10) throw e;
    }
  }
}

function closeBoth(udp: UdpSocket, tcp: Server): Promise<void> {
  return new Promise((resolve) => {
    try {
      udp.close();
    } catch {
      /* closed */
    }
    tcp.close(() => resolve());
  });
}
