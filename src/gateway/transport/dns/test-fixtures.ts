/** Shared fixtures for the tunnel-DNS tests (not used by production code). */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect, createServer, type Server, type Socket } from "node:net";
import dnsPacket from "dns-packet";
import type { DecodedPacket, Packet } from "dns-packet";
import { policyOf } from "../../../config/testing.js";
import type { CompiledPolicy } from "../../../policy/compiled.js";
import { FrameReader, frame } from "./wire.js";

/** A policy with every kind of name: address families, a tunneled https endpoint, plain https, `resolve` entries. */
export function fixturePolicy(extraGateway = ""): CompiledPolicy {
  return policyOf(`
gateway {
  state_dir  = "/tmp/clawpatrol-test"
  public_url = "https://gw.example.test"
  wireguard { subnet_cidr = "10.55.0.0/24" }
  resolve = {
    "split.example.test" = "192.0.2.7"
    "v6.example.test"    = "2001:db8::7"
    "local.example.test" = "127.0.0.1"
  }
  ${extraGateway}
}
tunnel "local_command" "corp" {
  command = ["corp-proxy"]
  listen  = "127.0.0.1:9999"
}
endpoint "postgres" "main" { host = "db.internal:5432" }
endpoint "postgres" "other" { host = "other.internal" }
endpoint "ssh" "box" { hosts = ["box.internal", "10.1.2.3"] }
endpoint "clickhouse_native" "ch" { hosts = ["ch.internal"] }
endpoint "clickhouse_https" "chh" { hosts = ["chh.internal"] }
endpoint "https" "wiki" {
  hosts  = ["wiki.corp", "*.svc.corp"]
  tunnel = local_command.corp
}
endpoint "https" "api" { hosts = ["api.example.test"] }
credential "postgres_credential" "main" {
  endpoint = postgres.main
  user     = "app"
}
credential "postgres_credential" "other" {
  endpoint = postgres.other
  user     = "app"
}
credential "ssh_key" "box" { endpoint = ssh.box }
credential "clickhouse_credential" "ch" {
  endpoints = [clickhouse_native.ch, clickhouse_https.chh]
  user      = "u"
}
credential "bearer_token" "wiki" { endpoint = https.wiki }
credential "bearer_token" "api" { endpoint = https.api }
profile "a" { credentials = [postgres_credential.main, ssh_key.box, clickhouse_credential.ch, bearer_token.wiki, bearer_token.api] }
profile "b" { credentials = [postgres_credential.other, bearer_token.api] }
`);
}

/** Encodes a query (RD set). */
export function query(name: string, type: string, opts: { id?: number; edns?: number } = {}): Buffer {
  const p: Packet = {
    type: "query",
    id: opts.id ?? Math.floor(Math.random() * 65536),
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as "A", class: "IN" }],
  };
  if (opts.edns !== undefined) {
    p.additionals = [{ type: "OPT", name: ".", udpPayloadSize: opts.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }];
  }
  return dnsPacket.encode(p);
}

/** The rcode of a raw message. */
export function rcodeOf(msg: Buffer): number {
  return msg.readUInt16BE(2) & 0xf;
}

/** Sends one datagram and waits for the first reply (rejects after `timeoutMs`). */
export function udpExchange(port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket("udp4");
    const t = setTimeout(() => {
      sock.close();
      reject(new Error("no UDP reply"));
    }, timeoutMs);
    sock.on("message", (m) => {
      clearTimeout(t);
      sock.close();
      resolve(m);
    });
    sock.send(msg, port, "127.0.0.1");
  });
}

/** Writes `chunks` as they are (already framed) on one TCP connection and collects `expect` framed answers. */
export function tcpExchange(port: number, chunks: Buffer[], expect: number, timeoutMs = 3000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: "127.0.0.1", port });
    const reader = new FrameReader();
    const got: Buffer[] = [];
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`only ${got.length} of ${expect} TCP answers`));
    }, timeoutMs);
    sock.on("connect", async () => {
      for (const c of chunks) {
        sock.write(c);
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    sock.on("data", (chunk: Buffer) => {
      got.push(...reader.push(chunk));
      if (got.length >= expect) {
        clearTimeout(t);
        sock.end();
        resolve(got);
      }
    });
    sock.on("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

export { frame };

/** How the fake upstream answers one query: a packet to encode, raw bytes, or nothing (silence). */
export type UpstreamAnswer = Packet | Buffer | undefined;

/** A fake upstream resolver on loopback (UDP and TCP on one port) that records what it receives. */
export interface FakeUpstream {
  port: number;
  udpQueries: Buffer[];
  tcpQueries: Buffer[];
  close(): Promise<void>;
}

export async function fakeUpstream(answer: (q: DecodedPacket, transport: "udp" | "tcp") => UpstreamAnswer): Promise<FakeUpstream> {
  const udpQueries: Buffer[] = [];
  const tcpQueries: Buffer[] = [];
  const encode = (a: UpstreamAnswer): Buffer | undefined => (a === undefined ? undefined : Buffer.isBuffer(a) ? a : dnsPacket.encode(a));
  const udp: UdpSocket = createSocket("udp4");
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
  const port = udp.address().port;
  udp.on("message", (m, rinfo) => {
    udpQueries.push(m);
    const out = encode(answer(dnsPacket.decode(m), "udp"));
    if (out) udp.send(out, rinfo.port, rinfo.address);
  });
  const conns = new Set<Socket>();
  const tcp: Server = createServer((sock) => {
    conns.add(sock);
    sock.on("close", () => conns.delete(sock));
    const reader = new FrameReader();
    sock.on("data", (chunk: Buffer) => {
      for (const m of reader.push(chunk)) {
        tcpQueries.push(m);
        const out = encode(answer(dnsPacket.decode(m), "tcp"));
        if (out) sock.write(frame(out));
      }
    });
    sock.on("error", () => {});
  });
  await new Promise<void>((r, j) => {
    tcp.once("error", j);
    tcp.listen(port, "127.0.0.1", () => r());
  });
  return {
    port,
    udpQueries,
    tcpQueries,
    close: () =>
      new Promise<void>((r) => {
        for (const c of conns) c.destroy();
        udp.close();
        tcp.close(() => r());
      }),
  };
}

/** A response to `q` with these answers (RD|RA, id and question echoed). */
export function responseTo(q: DecodedPacket, answers: Packet["answers"], extraFlags = 0): Packet {
  return {
    type: "response",
    id: q.id ?? 0,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | extraFlags,
    questions: q.questions ?? [],
    answers: answers ?? [],
  };
}
