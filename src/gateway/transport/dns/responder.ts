/**
 * DNS inside the tunnel (UDP and TCP 53 at the gateway's tunnel address).
 *
 * - A names needing a virtual address (./virtual-ips.ts) answer it, with a
 *   short TTL; any other type for them answers empty (NOERROR, no records —
 *   no AAAA, and no forwarded HTTPS/SVCB record hinting the real address).
 * - `gateway { resolve = {...} }` names answer their mapped address
 *   directly (split horizon), except gateway-local ones (127.0.0.1), which
 *   get virtual addresses instead.
 * - PTR queries for the virtual range answer the name (NXDOMAIN when the
 *   address stands for nothing); they never leave the gateway.
 * - Everything else is forwarded to the upstream resolver (./forward.ts):
 *   `forward.server`, else `gateway.resolver`, else the first nameserver of
 *   /etc/resolv.conf. UDP, with TCP on truncation; the answer is relayed
 *   unchanged unless it is too large for the client's UDP size (then the
 *   client gets TC and retries over TCP).
 *
 * Malformed messages get FORMERR (or are dropped when not even a header);
 * responses arriving as queries are dropped (no loops); nothing throws.
 * Forwards in flight are bounded: beyond the bound, SERVFAIL at once.
 */
import type { Duplex } from "node:stream";
import dnsPacket from "dns-packet";
import type { Answer, DecodedPacket, OptAnswer, Question } from "dns-packet";
import type { CompiledPolicy } from "../../../policy/compiled.js";
import { localTransportsOf } from "../local.js";
import { isGatewayLocalAddress, normaliseName, virtualNamesOf, type VirtualIps } from "./virtual-ips.js";
import { Forwarder, parseDnsServer, systemNameserver, type DnsServer } from "./forward.js";
import { FLAG, FrameReader, RCODE, errorResponse, flagsOf, frame, hasHeader, opcodeOf, truncatedResponse } from "./wire.js";

export interface TunnelDnsForwardOptions {
  /**
   * Upstream resolver ("1.1.1.1", "host:53", "[::1]:5353"). Unset:
   * `gateway.resolver`, else the first nameserver of `resolvConf`.
   */
  server?: string;
  /** resolv.conf consulted when no server is configured (default /etc/resolv.conf). */
  resolvConf?: string;
  /** Per upstream attempt, UDP and TCP each (default 3000 ms). */
  timeoutMs?: number;
  /** Most forwards in flight; beyond it queries get SERVFAIL at once (default 256). */
  maxInFlight?: number;
}

export interface TunnelDnsOptions {
  /** The policy, or a getter for the current one (read per query: reloads apply). */
  policy: CompiledPolicy | (() => CompiledPolicy);
  virtualIps: VirtualIps;
  forward?: TunnelDnsForwardOptions;
  /** TTL of locally answered records (default 60 s). */
  ttl?: number;
  /**
   * Largest UDP answer sent, whatever EDNS size the client offers (default
   * 1232, which fits the tunnel MTU unfragmented); larger ones are sent
   * truncated so the client retries over TCP.
   */
  maxUdpAnswer?: number;
  /** A TCP connection with no query pending is closed after this long idle (default 30 s). */
  tcpIdleMs?: number;
  /** Problems worth a log line (upstream failures, allocation errors); never thrown. */
  onError?: (message: string, fields: Record<string, unknown>) => void;
}

export interface TunnelDns {
  /** Answers one datagram; `reply` is called at most once (not at all for messages that are dropped). */
  handleUdp(query: Buffer, reply: (answer: Buffer) => void): void;
  /**
   * Serves a DNS-over-TCP connection: 2-byte length-prefixed messages,
   * several per connection, answered as they complete (possibly out of
   * order, as RFC 7766 allows; ids tell them apart).
   */
  handleTcp(stream: Duplex): void;
  /** The answer to one message (undefined: dropped); what both handlers use. */
  answer(query: Buffer, transport?: "udp" | "tcp"): Promise<Buffer | undefined>;
  /**
   * Assigns the current policy's virtual addresses now (they are otherwise
   * assigned at the first query after a load): call at start and after each
   * reload, so no query waits on the store.
   */
  prepare(): void;
  /** Forwards currently in flight. */
  readonly inFlight: number;
  /** Cancels forwards in flight and closes TCP connections. */
  close(): void;
}

/** How a name is answered locally. */
type LocalName = { kind: "virtual"; ip: string } | { kind: "static"; ip: string } | { kind: "failed" };

interface PolicyView {
  names: Map<string, LocalName>;
  server: DnsServer | undefined;
}

const DEFAULTS = { ttl: 60, maxUdpAnswer: 1232, timeoutMs: 3000, maxInFlight: 256, tcpIdleMs: 30_000 };
/** Queries answered concurrently on one TCP connection before it stops reading. */
const MAX_PENDING_PER_TCP = 32;

const PTR_V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/;

/** Creates the tunnel's DNS responder. */
export function createTunnelDns(opts: TunnelDnsOptions): TunnelDns {
  const policyOf = typeof opts.policy === "function" ? opts.policy : () => opts.policy as CompiledPolicy;
  const ttl = opts.ttl ?? DEFAULTS.ttl;
  const maxUdpAnswer = Math.max(512, opts.maxUdpAnswer ?? DEFAULTS.maxUdpAnswer);
  const maxInFlight = opts.forward?.maxInFlight ?? DEFAULTS.maxInFlight;
  const tcpIdleMs = opts.tcpIdleMs ?? DEFAULTS.tcpIdleMs;
  const forwarder = new Forwarder(opts.forward?.timeoutMs ?? DEFAULTS.timeoutMs);
  const report = (message: string, fields: Record<string, unknown>) => {
    try {
      opts.onError?.(message, fields);
    } catch {
      /* a logger must not break DNS */
    }
  };
  const views = new WeakMap<CompiledPolicy, PolicyView>();
  const streams = new Set<Duplex>();
  let inFlight = 0;
  let closed = false;

  /** Names, addresses and upstream for a policy (memoised per compiled policy; allocates virtual addresses). */
  function viewOf(policy: CompiledPolicy): PolicyView {
    let view = views.get(policy);
    if (view) return view;
    const gateway = policy.config.gateway;
    const resolve = localTransportsOf(gateway).resolve;
    const names = new Map<string, LocalName>();
    for (const [name, ip] of Object.entries(resolve)) {
      if (!isGatewayLocalAddress(ip)) names.set(normaliseName(name), { kind: "static", ip });
    }
    for (const name of virtualNamesOf(policy, resolve)) {
      try {
        names.set(name, { kind: "virtual", ip: opts.virtualIps.allocate(name) });
      } catch (e) {
        report("cannot assign a virtual address", { name, error: (e as Error).message });
        names.set(name, { kind: "failed" });
      }
    }
    let server: DnsServer | undefined;
    const configured = opts.forward?.server ?? (typeof gateway?.fields.resolver === "string" ? gateway.fields.resolver : undefined);
    const text = configured ?? systemNameserver(opts.forward?.resolvConf);
    try {
      if (text !== undefined) server = parseDnsServer(text);
    } catch (e) {
      report("unusable upstream resolver; names are not forwarded", { resolver: text, error: (e as Error).message });
    }
    view = { names, server };
    views.set(policy, view);
    return view;
  }

  /** A response to `q` with these records (AA, RD copied, RA; OPT echoed when the query had one). */
  function localResponse(q: DecodedPacket, question: Question, rcode: number, answers: Answer[]): Buffer {
    const hasOpt = (q.additionals ?? []).some((a) => a.type === "OPT");
    const opt: OptAnswer = { type: "OPT", name: ".", udpPayloadSize: maxUdpAnswer, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
    return dnsPacket.encode({
      type: "response",
      id: q.id ?? 0,
      flags: FLAG.AA | ((q.flags ?? 0) & FLAG.RD) | FLAG.RA | rcode,
      questions: [question],
      answers,
      authorities: [],
      additionals: hasOpt ? [opt] : [],
    });
  }

  /** The local answer for a question, or undefined when it is to be forwarded. */
  function local(query: Buffer, q: DecodedPacket, question: Question): Buffer | undefined {
    if ((question.class ?? "IN") !== "IN") return undefined;
    const name = normaliseName(question.name);
    const ptr = PTR_V4.exec(name);
    if (ptr) {
      const ip = `${ptr[4]}.${ptr[3]}.${ptr[2]}.${ptr[1]}`;
      if (!opts.virtualIps.contains(ip)) return undefined;
      const target = opts.virtualIps.lookupName(ip);
      if (target === undefined) return localResponse(q, question, RCODE.NXDOMAIN, []);
      if (question.type !== "PTR" && (question.type as string) !== "ANY") return localResponse(q, question, RCODE.NOERROR, []);
      return localResponse(q, question, RCODE.NOERROR, [{ type: "PTR", name: question.name, ttl, data: target }]);
    }
    const entry = viewOf(policyOf()).names.get(name);
    if (!entry) return undefined;
    if (entry.kind === "failed") return errorResponse(query, RCODE.SERVFAIL);
    const v6 = entry.ip.includes(":");
    const type = question.type as string;
    const wanted = type === "ANY" || type === (v6 ? "AAAA" : "A");
    const answers: Answer[] = wanted ? [{ type: v6 ? "AAAA" : "A", name: question.name, ttl, data: entry.ip }] : [];
    return localResponse(q, question, RCODE.NOERROR, answers);
  }

  /** The UDP payload a client takes (EDNS size capped by `maxUdpAnswer`; 512 without EDNS). */
  function udpLimit(q: DecodedPacket): number {
    const opt = (q.additionals ?? []).find((a): a is OptAnswer => a.type === "OPT");
    return opt ? Math.min(maxUdpAnswer, Math.max(512, opt.udpPayloadSize)) : 512;
  }

  async function forward(query: Buffer, q: DecodedPacket, transport: "udp" | "tcp"): Promise<Buffer> {
    const server = viewOf(policyOf()).server;
    if (!server) return errorResponse(query, RCODE.SERVFAIL);
    if (inFlight >= maxInFlight) {
      report("too many DNS forwards in flight; answering SERVFAIL", { inFlight });
      return errorResponse(query, RCODE.SERVFAIL);
    }
    inFlight++;
    try {
      const limit = transport === "tcp" ? 65535 : udpLimit(q);
      let answer = await forwarder.udp(server, query);
      if ((flagsOf(answer) & FLAG.TC) !== 0) {
        try {
          const full = await forwarder.tcp(server, query);
          if (full.length <= limit) return full;
        } catch (e) {
          report("DNS TCP retry failed; relaying the truncated answer", { server: `${server.host}:${server.port}`, error: (e as Error).message });
        }
      }
      if (answer.length > limit) answer = truncatedResponse(query, answer);
      return answer;
    } catch (e) {
      if (!closed) report("DNS forward failed", { server: `${server.host}:${server.port}`, error: (e as Error).message });
      return errorResponse(query, RCODE.SERVFAIL);
    } finally {
      inFlight--;
    }
  }

  async function answer(query: Buffer, transport: "udp" | "tcp" = "udp"): Promise<Buffer | undefined> {
    if (closed || !hasHeader(query)) return undefined;
    if ((flagsOf(query) & FLAG.QR) !== 0) return undefined; // a response: never answer one
    let q: DecodedPacket;
    try {
      q = dnsPacket.decode(query);
    } catch {
      return errorResponse(query.subarray(0, 12), RCODE.FORMERR);
    }
    if (opcodeOf(query) !== 0) return errorResponse(query, RCODE.NOTIMP);
    const questions = q.questions ?? [];
    if (questions.length !== 1) return errorResponse(query.subarray(0, 12), RCODE.FORMERR);
    try {
      const mine = local(query, q, questions[0]!);
      if (mine) return mine;
    } catch (e) {
      report("DNS local answer failed", { error: (e as Error).message });
      return errorResponse(query, RCODE.SERVFAIL);
    }
    return forward(query, q, transport);
  }

  function handleUdp(query: Buffer, reply: (answer: Buffer) => void): void {
    answer(query, "udp").then(
      (a) => {
        if (a && !closed) {
          try {
            reply(a);
          } catch (e) {
            report("DNS reply failed", { error: (e as Error).message });
          }
        }
      },
      (e: unknown) => report("DNS query failed", { error: (e as Error)?.message ?? String(e) }),
    );
  }

  function handleTcp(stream: Duplex): void {
    if (closed) {
      stream.destroy();
      return;
    }
    streams.add(stream);
    const reader = new FrameReader();
    let pending = 0;
    let ended = false;
    // A client that sends without reading must not make answers pile up: stop reading until they drain.
    let writeBlocked = false;
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      if (idle) clearTimeout(idle);
      idle = pending === 0 && !ended ? setTimeout(() => stream.destroy(), tcpIdleMs) : undefined;
      idle?.unref?.();
    };
    const flow = () => {
      if (writeBlocked || pending >= MAX_PENDING_PER_TCP) stream.pause();
      else if (stream.isPaused() && !ended) stream.resume();
    };
    const settle = () => {
      if (ended && pending === 0 && !stream.destroyed) stream.end();
      else armIdle();
    };
    stream.on("data", (chunk: Buffer) => {
      for (const msg of reader.push(chunk)) {
        pending++;
        answer(msg, "tcp")
          .then(
            (a) => {
              if (a && !stream.destroyed && stream.writable && !stream.write(frame(a))) writeBlocked = true;
            },
            (e: unknown) => report("DNS query failed", { error: (e as Error)?.message ?? String(e) }),
          )
          .finally(() => {
            pending--;
            flow();
            settle();
          });
      }
      flow();
      armIdle();
    });
    stream.on("drain", () => {
      writeBlocked = false;
      flow();
    });
    stream.on("end", () => {
      ended = true;
      settle();
    });
    stream.on("error", () => stream.destroy());
    stream.on("close", () => {
      if (idle) clearTimeout(idle);
      streams.delete(stream);
    });
    armIdle();
    stream.resume();
  }

  return {
    handleUdp,
    handleTcp,
    answer,
    prepare() {
      viewOf(policyOf());
    },
    get inFlight() {
      return inFlight;
    },
    close() {
      closed = true;
      forwarder.close();
      for (const s of streams) s.destroy();
      streams.clear();
    },
  };
}
