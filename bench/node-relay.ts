/**
 * A bare byte relay for benchmarks: what a Node process costs just to carry
 * a connection, with no parsing, policy or audit — the floor any proxy in
 * this runtime stands on. It uses the gateway's own socket handling (a
 * `net.Server` toward the client, `connectFast` toward the server), so the
 * gap between it and the gateway is the gateway's own work.
 */
import { createServer, type Server, type Socket } from "node:net";
import { connectFast } from "../src/gateway/fast-socket.js";

export interface NodeRelay {
  port: number;
  close(): Promise<void>;
}

/** Relays every connection on an ephemeral loopback port to `host:port`. */
export async function startNodeRelay(host: string, port: number): Promise<NodeRelay> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ noDelay: true }, (agent) => {
    sockets.add(agent);
    agent.pause();
    agent.on("error", () => agent.destroy());
    agent.on("close", () => sockets.delete(agent));
    connectFast(host, port, 5000).then(
      (up) => {
        sockets.add(up);
        const end = () => {
          agent.destroy();
          up.destroy();
        };
        up.on("data", (chunk: Buffer) => agent.write(chunk));
        agent.on("data", (chunk: Buffer) => up.write(chunk));
        for (const s of [agent, up]) {
          s.on("end", end);
          s.on("error", end);
          s.on("close", end);
        }
        up.on("close", () => sockets.delete(up));
        agent.resume();
      },
      () => agent.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("relay: no TCP address");
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
