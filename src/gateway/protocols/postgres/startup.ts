/**
 * The agent side of a Postgres connection's start: answer `SSLRequest`
 * (TLS with a leaf minted for the name the agent dialed, so `sslmode`
 * `prefer`, `require` and `verify-full` all work), refuse `GSSENCRequest`,
 * recognise a `CancelRequest`, and read the `StartupMessage`.
 */
import type { Duplex } from "node:stream";
import { TLSSocket, type SecureContext } from "node:tls";
import { MessageStream } from "./conn.js";
import { errorResponse, message, parseStartup, ProtocolError, type StartupPacket } from "./wire.js";

/** How long the agent has to send its startup packets. */
export const STARTUP_TIMEOUT_MS = 15_000;

export type AgentHello =
  | { kind: "cancel"; pid: number; secret: number }
  | { kind: "startup"; stream: Duplex; params: Map<string, string>; ms: MessageStream; tls: boolean };

/**
 * Runs the agent's startup phase. Returns the stream to use from now on
 * (the TLS socket when the agent asked for TLS) with its reader.
 */
export async function agentHello(
  stream: Duplex,
  secureContext: () => Promise<SecureContext>,
  /** Told when the agent's stream becomes a TLS socket, so errors from here on are written inside TLS. */
  onTls: (socket: TLSSocket) => void = () => {},
): Promise<AgentHello> {
  let ms = new MessageStream(stream, 64 * 1024);
  let current: Duplex = stream;
  let tls = false;
  for (let round = 0; round < 3; round++) {
    const packet: StartupPacket = parseStartup(await ms.nextStartup(STARTUP_TIMEOUT_MS));
    switch (packet.kind) {
      case "cancel":
        ms.detach();
        return packet;
      case "gssenc":
        current.write("N");
        continue;
      case "ssl": {
        if (tls) throw new ProtocolError("SSLRequest inside TLS");
        // Bytes pipelined behind the SSLRequest would be plaintext smuggled into the TLS session (CVE-2021-23214).
        if (ms.reader.buffered > 0) throw new ProtocolError("data after SSLRequest before the TLS handshake");
        const ctx = await secureContext();
        ms.detach();
        current.write("S");
        const socket = new TLSSocket(current, { isServer: true, secureContext: ctx });
        socket.on("error", () => socket.destroy());
        onTls(socket);
        current = socket;
        ms = new MessageStream(socket, 64 * 1024);
        tls = true;
        continue;
      }
      case "startup": {
        if (packet.major !== 3) {
          throw new ProtocolError(`unsupported frontend protocol ${packet.major}.${packet.minor}: the gateway speaks 3.0`);
        }
        const unsupported = [...packet.params.keys()].filter((k) => k.startsWith("_pq_."));
        if (packet.minor > 0 || unsupported.length > 0) {
          // NegotiateProtocolVersion: we speak 3.0 and none of the requested protocol options.
          current.write(message("v", 196608, unsupported.length, ...unsupported));
          for (const k of unsupported) packet.params.delete(k);
        }
        return { kind: "startup", stream: current, params: packet.params, ms, tls };
      }
    }
  }
  throw new ProtocolError("too many startup negotiation packets");
}

/** Writes a FATAL error to the agent and closes its stream once written. */
export function fatal(stream: Duplex, code: string, text: string, hint?: string): void {
  if (!stream.writable) {
    stream.destroy();
    return;
  }
  stream.end(errorResponse({ severity: "FATAL", code, message: text, ...(hint ? { hint } : {}) }));
  setTimeout(() => stream.destroy(), 1000).unref();
}
