import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Resolver } from "node:dns/promises";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import dnsPacket from "dns-packet";
import type { Answer, DecodedPacket } from "dns-packet";
import { openMemoryStore } from "../../../store/db.js";
import { createTunnelDns, type TunnelDns, type TunnelDnsOptions } from "./responder.js";
import { parseDnsServer, systemNameserver } from "./forward.js";
import { serveTunnelDns, type DnsListener } from "./serve.js";
import { VirtualIps } from "./virtual-ips.js";
import {
  fakeUpstream,
  fixturePolicy,
  frame,
  query,
  rcodeOf,
  responseTo,
  tcpExchange,
  udpExchange,
  type FakeUpstream,
  type UpstreamAnswer,
} from "./test-fixtures.js";

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 };

/** dns-packet decodes the rcode but its types omit it. */
const rcodeName = (p: DecodedPacket): string => (p as DecodedPacket & { rcode: string }).rcode;

/** Many A records (to make answers large). */
const manyA = (name: string, n: number): Answer[] =>
  Array.from({ length: n }, (_, i) => ({ type: "A" as const, name, ttl: 300, data: `198.51.${Math.floor(i / 250)}.${(i % 250) + 1}` }));

/** What the fake upstream knows. */
function upstreamAnswer(q: DecodedPacket, transport: "udp" | "tcp"): UpstreamAnswer {
  const name = q.questions?.[0]?.name ?? "";
  if (name.startsWith("slow")) return undefined; // never answers
  if (name === "www.example.test") {
    return responseTo(q, [
      { type: "A", name, ttl: 123, data: "203.0.113.5" },
      { type: "TXT", name, ttl: 123, data: ["kept as is"] },
    ]);
  }
  if (name === "big.example.test") {
    // Over UDP: truncated, as a real server does when the answer does not fit.
    return transport === "udp" ? responseTo(q, [], dnsPacket.TRUNCATED_RESPONSE) : responseTo(q, manyA(name, 30)); // ~1 KB: more than 512, less than 1232
  }
  if (name === "huge.example.test") return transport === "udp" ? responseTo(q, [], dnsPacket.TRUNCATED_RESPONSE) : responseTo(q, manyA(name, 100));
  if (name === "fat.example.test") return responseTo(q, manyA(name, 100)); // an oversized UDP answer (no TC)
  return { ...responseTo(q, []), flags: dnsPacket.RECURSION_AVAILABLE | 3 }; // NXDOMAIN
}

describe("tunnel DNS responder", () => {
  let upstream: FakeUpstream;
  let vips: VirtualIps;
  let dns: TunnelDns;
  let listener: DnsListener;
  const errors: string[] = [];
  const make = (extra: Partial<TunnelDnsOptions> = {}) =>
    createTunnelDns({
      policy: fixturePolicy(),
      virtualIps: vips,
      forward: { server: `127.0.0.1:${upstream.port}`, timeoutMs: 300 },
      onError: (m) => errors.push(m),
      ...extra,
    });

  before(async () => {
    upstream = await fakeUpstream(upstreamAnswer);
    vips = new VirtualIps(openMemoryStore().settings);
    dns = make();
    listener = await serveTunnelDns(dns);
  });
  after(async () => {
    dns.close();
    await listener.close();
    await upstream.close();
  });

  const udp = async (name: string, type: string, opts: { id?: number; edns?: number } = {}) =>
    dnsPacket.decode(await udpExchange(listener.port, query(name, type, opts)));

  it("UDP: answers a virtual name's A with its virtual address and a short TTL, echoing id and question", async () => {
    const before = upstream.udpQueries.length;
    const a = await udp("DB.Internal", "A", { id: 0x1234 });
    assert.equal(a.id, 0x1234);
    assert.equal(a.type, "response");
    assert.equal(rcodeName(a), "NOERROR");
    assert.ok(a.flag_aa && a.flag_rd && a.flag_ra);
    assert.deepEqual(a.questions, [{ name: "DB.Internal", type: "A", class: "IN" }], "question echoed as asked (0x20 case kept)");
    assert.equal(a.answers?.length, 1);
    const rr = a.answers![0]! as { type: string; data: string; ttl: number; name: string };
    assert.equal(rr.type, "A");
    assert.equal(rr.data, vips.addressOf("db.internal"));
    assert.equal(rr.ttl, 60);
    assert.equal(vips.lookupName(rr.data), "db.internal");
    assert.equal(upstream.udpQueries.length, before, "never forwarded");
  });

  it("answers AAAA and every other type for virtual names empty (NOERROR), never forwarding them", async () => {
    const before = upstream.udpQueries.length;
    for (const type of ["AAAA", "MX", "TXT", "UNKNOWN_65"]) {
      const a = await udp("box.internal", type);
      assert.equal(rcodeName(a), "NOERROR", type);
      assert.equal(a.answers?.length, 0, type);
    }
    assert.equal(upstream.udpQueries.length, before);
  });

  it("answers gateway.resolve names with their mapped address (split horizon); gateway-local ones get a virtual address", async () => {
    const split = await udp("split.example.test", "A");
    assert.deepEqual(split.answers?.map((r) => (r as { data: string }).data), ["192.0.2.7"]);
    assert.equal((await udp("split.example.test", "AAAA")).answers?.length, 0);
    const v6 = await udp("v6.example.test", "AAAA");
    assert.deepEqual(v6.answers?.map((r) => (r as { data: string }).data), ["2001:db8::7"]);
    const local = await udp("local.example.test", "A");
    const ip = (local.answers?.[0] as { data: string }).data;
    assert.notEqual(ip, "127.0.0.1");
    assert.equal(vips.lookupName(ip), "local.example.test");
  });

  it("answers PTR for virtual addresses locally (NXDOMAIN when unassigned)", async () => {
    const ip = vips.allocate("db.internal");
    const rev = `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
    const a = await udp(rev, "PTR");
    assert.deepEqual(a.answers?.map((r) => (r as { data: string }).data), ["db.internal"]);
    assert.equal(rcodeName(await udp("254.255.80.100.in-addr.arpa", "PTR")), "NXDOMAIN");
  });

  it("forwards other names to the upstream byte for byte and relays its answer byte for byte (ids preserved)", async () => {
    const q = query("www.example.test", "A", { id: 0xbeef, edns: 1232 });
    const got = await udpExchange(listener.port, q);
    assert.deepEqual(upstream.udpQueries.at(-1), q, "the query reaches the upstream unchanged");
    const expected = dnsPacket.encode(upstreamAnswer(dnsPacket.decode(q), "udp") as dnsPacket.Packet);
    assert.deepEqual(got, expected, "the answer reaches the client unchanged");
    assert.equal(got.readUInt16BE(0), 0xbeef);
    assert.equal(rcodeOf(await udpExchange(listener.port, query("nope.example.test", "A"))), RCODE.NXDOMAIN);
    // Wildcard and plain-https names are not ours: forwarded.
    const n = upstream.udpQueries.length;
    await udp("x.svc.corp", "A");
    await udp("api.example.test", "A");
    assert.equal(upstream.udpQueries.length, n + 2);
  });

  it("a real client (node's c-ares resolver) resolves virtual, split-horizon and forwarded names", async () => {
    const r = new Resolver({ timeout: 2000, tries: 1 });
    r.setServers([`127.0.0.1:${listener.port}`]);
    assert.deepEqual(await r.resolve4("db.internal"), [vips.addressOf("db.internal")]);
    assert.deepEqual(await r.resolve4("split.example.test"), ["192.0.2.7"]);
    assert.deepEqual(await r.resolve4("www.example.test"), ["203.0.113.5"]);
    await assert.rejects(r.resolve4("nope.example.test"), (e: NodeJS.ErrnoException) => e.code === "ENOTFOUND");
    // c-ares retries over TCP on TC: the large answer arrives whole.
    assert.equal((await r.resolve4("huge.example.test")).length, 100);
  });

  it("TCP: several length-prefixed queries on one connection, split and coalesced across writes", async () => {
    const q1 = frame(query("db.internal", "A", { id: 1 }));
    const q2 = frame(query("www.example.test", "A", { id: 2 }));
    const q3 = frame(query("wiki.corp", "A", { id: 3 }));
    const stream = Buffer.concat([q1, q2, q3]);
    // q1 and half of q2 in one write, the rest in another.
    const cut = q1.length + 5;
    const answers = await tcpExchange(listener.port, [stream.subarray(0, cut), stream.subarray(cut)], 3);
    const byId = new Map(answers.map((a) => [a.readUInt16BE(0), dnsPacket.decode(a)]));
    assert.deepEqual([...byId.keys()].sort(), [1, 2, 3]);
    assert.equal((byId.get(1)!.answers![0] as { data: string }).data, vips.addressOf("db.internal"));
    assert.equal((byId.get(2)!.answers![0] as { data: string }).data, "203.0.113.5");
    assert.equal((byId.get(3)!.answers![0] as { data: string }).data, vips.addressOf("wiki.corp"));
  });

  it("FORMERR on garbage, NOTIMP on other opcodes; drops what is not a query; never throws", async () => {
    const garbage = Buffer.from("abcdefghijklmnopqrstuvwxyz");
    const formerr = await udpExchange(listener.port, garbage);
    assert.equal(rcodeOf(formerr), RCODE.FORMERR);
    assert.equal(formerr.readUInt16BE(0), garbage.readUInt16BE(0), "id echoed");
    assert.ok(formerr.readUInt16BE(2) & 0x8000, "QR set");

    const two = dnsPacket.encode({ type: "query", id: 9, questions: [{ name: "a.test", type: "A" }, { name: "b.test", type: "A" }] });
    assert.equal(rcodeOf((await dns.answer(two))!), RCODE.FORMERR, "two questions");
    const none = dnsPacket.encode({ type: "query", id: 9, questions: [] });
    assert.equal(rcodeOf((await dns.answer(none))!), RCODE.FORMERR, "no question");
    const status = query("db.internal", "A");
    status.writeUInt16BE(status.readUInt16BE(2) | (2 << 11), 2);
    const notimp = (await dns.answer(status))!;
    assert.equal(rcodeOf(notimp), RCODE.NOTIMP);
    assert.equal(dnsPacket.decode(notimp).questions?.[0]?.name, "db.internal", "question echoed");

    assert.equal(await dns.answer(Buffer.from([1, 2, 3])), undefined, "shorter than a header: dropped");
    const response = Buffer.from(query("db.internal", "A"));
    response[2]! |= 0x80;
    assert.equal(await dns.answer(response), undefined, "a response is never answered");
    // Random bytes never throw and always get FORMERR or nothing.
    for (let i = 0; i < 500; i++) {
      const junk = Buffer.from(Array.from({ length: 1 + (i % 64) }, () => Math.floor(Math.random() * 256)));
      const a = await dns.answer(junk);
      if (a) assert.ok([RCODE.FORMERR, RCODE.NOTIMP, RCODE.SERVFAIL, RCODE.NOERROR, RCODE.NXDOMAIN].includes(rcodeOf(a)));
    }
    // Garbage over TCP: FORMERR, and the connection keeps serving.
    const answers = await tcpExchange(listener.port, [Buffer.concat([frame(garbage), frame(query("db.internal", "A", { id: 77 }))])], 2);
    assert.equal(rcodeOf(answers.find((a) => a.readUInt16BE(0) === garbage.readUInt16BE(0))!), RCODE.FORMERR);
    assert.ok(answers.some((a) => a.readUInt16BE(0) === 77 && rcodeOf(a) === 0));
  });

  it("a truncated upstream answer is retried over TCP and relayed whole when it fits the client", async () => {
    const tcpBefore = upstream.tcpQueries.length;
    const q = query("big.example.test", "A", { id: 4242, edns: 1232 });
    const a = dnsPacket.decode(await udpExchange(listener.port, q));
    assert.equal(upstream.tcpQueries.length, tcpBefore + 1, "asked again over TCP");
    assert.deepEqual(upstream.tcpQueries.at(-1), q, "the same query, unchanged");
    assert.equal(a.id, 4242);
    assert.equal(a.flag_tc, false);
    assert.equal(a.answers?.length, 30);
  });

  it("an answer too large for the client's UDP size arrives truncated; over TCP it arrives whole", async () => {
    // No EDNS: 512 bytes. 100 A records do not fit.
    const a = dnsPacket.decode(await udpExchange(listener.port, query("huge.example.test", "A", { id: 5 })));
    assert.equal(a.flag_tc, true);
    assert.equal(a.answers?.length, 0);
    assert.deepEqual(a.questions?.map((q) => q.name), ["huge.example.test"]);
    // Oversized without TC from upstream: cut down to TC as well (EDNS 4096 is capped at 1232).
    const fat = dnsPacket.decode(await udpExchange(listener.port, query("fat.example.test", "A", { edns: 4096 })));
    assert.equal(fat.flag_tc, true);
    const [whole] = await tcpExchange(listener.port, [frame(query("huge.example.test", "A", { id: 6 }))], 1);
    assert.equal(dnsPacket.decode(whole!).answers?.length, 100);
  });

  it("an upstream that does not answer gets SERVFAIL after the timeout; forwards in flight are bounded", async () => {
    const t0 = Date.now();
    const a = (await dns.answer(query("slow1.example.test", "A", { id: 31 })))!;
    assert.equal(rcodeOf(a), RCODE.SERVFAIL);
    assert.equal(a.readUInt16BE(0), 31);
    assert.ok(Date.now() - t0 >= 250, "waited for the timeout");

    const bounded = make({ forward: { server: `127.0.0.1:${upstream.port}`, timeoutMs: 1000, maxInFlight: 2 } });
    try {
      const p1 = bounded.answer(query("slow2.example.test", "A"));
      const p2 = bounded.answer(query("slow3.example.test", "A"));
      await new Promise((r) => setImmediate(r));
      assert.equal(bounded.inFlight, 2);
      const t1 = Date.now();
      const third = (await bounded.answer(query("slow4.example.test", "A")))!;
      assert.equal(rcodeOf(third), RCODE.SERVFAIL);
      assert.ok(Date.now() - t1 < 500, "refused at once, not after a timeout");
      // Local answers are not forwards: still served while the bound is reached.
      assert.equal(rcodeOf((await bounded.answer(query("db.internal", "A")))!), RCODE.NOERROR);
      bounded.close();
      assert.deepEqual((await Promise.all([p1, p2])).map((x) => x && rcodeOf(x)), [RCODE.SERVFAIL, RCODE.SERVFAIL]);
      assert.equal(bounded.inFlight, 0);
    } finally {
      bounded.close();
    }
  });

  it("reply callbacks that throw do not escape handleUdp", async () => {
    const done = new Promise<void>((resolve) =>
      dns.handleUdp(query("db.internal", "A"), () => {
        setImmediate(resolve);
        throw new Error("socket gone");
      }),
    );
    await done;
    assert.ok(errors.includes("DNS reply failed"));
  });

  it("prepare() assigns every virtual address of the policy up front", () => {
    const fresh = new VirtualIps(openMemoryStore().settings);
    const d = createTunnelDns({ policy: fixturePolicy(), virtualIps: fresh, forward: { server: "127.0.0.1:9" } });
    assert.equal(fresh.addressOf("db.internal"), undefined);
    d.prepare();
    for (const n of ["db.internal", "other.internal", "box.internal", "ch.internal", "wiki.corp", "local.example.test"]) assert.ok(fresh.addressOf(n), n);
    d.close();
  });

  it("forwards to gateway.resolver when no server is given", async () => {
    const d = createTunnelDns({ policy: fixturePolicy(`resolver = "127.0.0.1:${upstream.port}"`), virtualIps: vips, forward: { timeoutMs: 500 } });
    try {
      const a = (await d.answer(query("www.example.test", "A")))!;
      assert.equal(rcodeOf(a), RCODE.NOERROR);
      assert.equal((dnsPacket.decode(a).answers![0] as { data: string }).data, "203.0.113.5");
    } finally {
      d.close();
    }
  });

  it("without any resolver configured or found, forwarded names get SERVFAIL", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cp-dns-"));
    try {
      const d = createTunnelDns({ policy: fixturePolicy(), virtualIps: vips, forward: { resolvConf: join(dir, "missing") } });
      assert.equal(rcodeOf((await d.answer(query("www.example.test", "A")))!), RCODE.SERVFAIL);
      assert.equal(rcodeOf((await d.answer(query("db.internal", "A")))!), RCODE.NOERROR);
      d.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("resolver addresses", () => {
  it("parses gateway.resolver forms", () => {
    assert.deepEqual(parseDnsServer("1.1.1.1"), { host: "1.1.1.1", port: 53 });
    assert.deepEqual(parseDnsServer("1.1.1.1:5353"), { host: "1.1.1.1", port: 5353 });
    assert.deepEqual(parseDnsServer("::1"), { host: "::1", port: 53 });
    assert.deepEqual(parseDnsServer("[2606:4700::1111]:53"), { host: "2606:4700::1111", port: 53 });
    assert.deepEqual(parseDnsServer("dns.example.test:53"), { host: "dns.example.test", port: 53 });
    assert.throws(() => parseDnsServer("1.1.1.1:99999"));
    assert.throws(() => parseDnsServer(""));
    assert.throws(() => parseDnsServer("fe80::1:zz"));
  });

  it("reads the first nameserver of a resolv.conf", () => {
    const dir = mkdtempSync(join(tmpdir(), "cp-dns-"));
    try {
      const p = join(dir, "resolv.conf");
      writeFileSync(p, "# comment\nsearch example.test\nnameserver fe80::1%eth0\nnameserver 9.9.9.9\n");
      assert.equal(systemNameserver(p), "fe80::1");
      writeFileSync(p, "search example.test\n");
      assert.equal(systemNameserver(p), undefined);
      assert.equal(systemNameserver(join(dir, "missing")), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
