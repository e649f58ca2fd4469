/**
 * Forwarding queries to the upstream resolver: the client's message goes
 * out unchanged (so its id and everything else is preserved) from a fresh,
 * connected UDP socket per query — a random source port, and the kernel
 * drops datagrams from anyone but the server — and the answer comes back
 * unchanged. A truncated answer is asked again over TCP.
 */
import { createSocket } from "node:dgram";
import { promises as dnsPromises } from "node:dns";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { isIP } from "node:net";
import { FrameReader, FLAG, flagsOf, frame, idOf } from "./wire.js";

/** Where queries are forwarded. */
export interface DnsServer {
  /** IP literal (IPv6 without brackets) or host name. */
  host: string;
  port: number;
}

/**
 * Parses a resolver address as `gateway.resolver` takes it: "1.1.1.1",
 * "1.1.1.1:53", "::1", "[::1]:5353", "dns.example:53". Throws when malformed.
 */
export function parseDnsServer(text: string): DnsServer {
  const t = text.trim();
  if (t === "") throw new Error("empty resolver address");
  if (isIP(t) !== 0) return { host: t, port: 53 };
  let host: string;
  let port = "53";
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2] !== undefined) port = bracket[2];
  } else {
    const i = t.lastIndexOf(":");
    if (i >= 0) {
      host = t.slice(0, i);
      port = t.slice(i + 1);
    } else host = t;
  }
  const p = Number(port);
  if (host === "" || (host.includes(":") && isIP(host) === 0) || !/^\d+$/.test(port) || p < 1 || p > 65535) {
    throw new Error(`${JSON.stringify(text)} is not a resolver address ("1.1.1.1" or "host:53")`);
  }
  return { host, port: p };
}

/** The first `nameserver` of a resolv.conf (default /etc/resolv.conf), or undefined. */
export function systemNameserver(path = "/etc/resolv.conf"): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) return m[1]!.replace(/%.*$/, ""); // scope ids are for link-local servers the gateway would not use
  }
  return undefined;
}

/** Something in flight that `close()` must stop. */
type Cancel = () => void;

/** UDP then TCP exchanges with one server; every exchange is cancellable. */
export class Forwarder {
  readonly #timeoutMs: number;
  readonly #active = new Set<Cancel>();
  readonly #addr = new Map<string, Promise<string>>();

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Exchanges `query` over UDP; resolves with the first datagram from the server with the query's id. */
  async udp(server: DnsServer, query: Buffer): Promise<Buffer> {
    const host = await this.#address(server.host);
    const id = idOf(query);
    return this.#track<Buffer>((resolve, reject, onCancel) => {
      const sock = createSocket(isIP(host) === 6 ? "udp6" : "udp4");
      let done = false;
      const finish = (err: Error | undefined, msg?: Buffer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        try {
          sock.close();
        } catch {
          /* already closed */
        }
        if (err) reject(err);
        else resolve(msg!);
      };
      const timer = setTimeout(() => finish(new Error(`no answer from ${server.host}:${server.port} within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      onCancel(() => finish(new Error("cancelled")));
      sock.on("error", (e) => finish(e));
      sock.on("message", (msg) => {
        if (msg.length >= 12 && idOf(msg) === id && (flagsOf(msg) & FLAG.QR) !== 0) finish(undefined, msg);
      });
      sock.connect(server.port, host, () => {
        if (!done) sock.send(query, (e) => e && finish(e));
      });
    });
  }

  /** Exchanges `query` over TCP (one connection per query). */
  async tcp(server: DnsServer, query: Buffer): Promise<Buffer> {
    const host = await this.#address(server.host);
    const id = idOf(query);
    return this.#track<Buffer>((resolve, reject, onCancel) => {
      const sock = connect({ host, port: server.port });
      const reader = new FrameReader();
      let done = false;
      const finish = (err: Error | undefined, msg?: Buffer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        if (err) reject(err);
        else resolve(msg!);
      };
      const timer = setTimeout(() => finish(new Error(`no TCP answer from ${server.host}:${server.port} within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      onCancel(() => finish(new Error("cancelled")));
      sock.on("connect", () => sock.write(frame(query)));
      sock.on("data", (chunk: Buffer) => {
        for (const msg of reader.push(chunk)) if (msg.length >= 12 && idOf(msg) === id) return finish(undefined, msg);
        if (reader.buffered > 65537) finish(new Error("oversized TCP frame"));
      });
      sock.on("error", (e) => finish(e));
      sock.on("close", () => finish(new Error("connection closed before an answer")));
    });
  }

  /** Stops every exchange in flight (they reject). */
  close(): void {
    for (const c of [...this.#active]) c();
  }

  /** A server given by name is looked up once (and again after a failure). */
  #address(host: string): Promise<string> {
    if (isIP(host) !== 0) return Promise.resolve(host);
    let p = this.#addr.get(host);
    if (!p) {
      p = dnsPromises.lookup(host).then((r) => r.address);
      p.catch(() => this.#addr.delete(host));
      this.#addr.set(host, p);
    }
    return p;
  }

  #track<T>(run: (resolve: (v: T) => void, reject: (e: Error) => void, onCancel: (c: Cancel) => void) => void): Promise<T> {
    let cancel: Cancel = () => {};
    const p = new Promise<T>((resolve, reject) => run(resolve, reject, (c) => (cancel = c)));
    this.#active.add(cancel);
    const drop = () => this.#active.delete(cancel);
    p.then(drop, drop);
    return p;
  }
}
