/**
 * The `forward "<name>"` transport: a local port whose every connection is
 * a flow to one fixed destination — how clients without proxy support
 * (`psql`, `ssh`) reach an upstream through the gateway on a single host.
 * The destination is what the agent "dialed", so endpoints claim it exactly
 * as they would a WireGuard flow.
 */
import type net from "node:net";
import type { Destination } from "../flow.js";
import { LocalListener, type ListenerOptions } from "./listener.js";
import { splitHostPort } from "../../types/formats.js";

/** A forward is a listener plus the one destination all its flows go to. */
export interface ForwardListenerOptions extends ListenerOptions {
  /** The fixed destination, "host:port" (validated by the config checks). */
  to: string;
}

/** Parses a forward's `to` ("db.example.test:5432", "[2001:db8::1]:22"). */
export function parseForwardTarget(to: string): Destination {
  const split = splitHostPort(to);
  const port = split.ok && split.value.port !== undefined ? Number(split.value.port) : NaN;
  if (!split.ok || split.value.host === "" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`invalid forward target ${JSON.stringify(to)}`);
  }
  return { host: split.value.host, port };
}

/** A `forward` listener; every accepted socket is handed off at once. */
export class ForwardListener extends LocalListener {
  protected readonly kind = "forward" as const;
  readonly #to: Destination;

  constructor(opts: ForwardListenerOptions) {
    super(opts);
    this.#to = parseForwardTarget(opts.to);
  }

  protected accept(socket: net.Socket): void {
    this.handOff(socket, { ...this.#to });
  }
}
