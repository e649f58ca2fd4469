// Postgres interception at the byte level: hand-written frames from a raw
// socket — pipelining, the extended-protocol discard rule, FunctionCall,
// malformed and truncated input, TLS smuggling, cancel keys — against the
// real cluster behind the gateway.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { MessageStream } from "../src/gateway/protocols/postgres/conn.js";
import { cstr, int16, int32, message, parseErrorFields, startupMessage, sslRequest, type Frame } from "../src/gateway/protocols/postgres/wire.js";
import { pgToolsMissing } from "../src/testing/pg-cluster.js";
import { psql, startPgWorld, type PgWorld } from "./postgres-kit.js";

const skip = pgToolsMissing();

/** A raw client: a socket and a frame reader over it. */
interface Raw {
  socket: Socket;
  ms: MessageStream;
  /** Frames until (and including) the next ReadyForQuery. */
  untilReady(): Promise<Frame[]>;
}

async function rawConnect(port: number): Promise<Socket> {
  const s = connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => {
    s.once("connect", resolve);
    s.once("error", reject);
  });
  return s;
}

/** A SOCKS5 CONNECT through the gateway's proxy transport (name or IPv4 destination). */
async function socksConnect(proxyPort: number, host: string, port: number): Promise<Socket> {
  const s = await rawConnect(proxyPort);
  const read = (n: number) =>
    new Promise<Buffer>((resolve, reject) => {
      const onData = () => {
        const b = s.read(n) as Buffer | null;
        if (b) {
          s.off("readable", onData);
          resolve(b);
        }
      };
      s.on("readable", onData);
      s.once("error", reject);
      onData();
    });
  s.write(Buffer.from([5, 1, 0]));
  assert.deepEqual([...(await read(2))], [5, 0]);
  const ip = /^\d+\.\d+\.\d+\.\d+$/.test(host);
  const addr = ip ? Buffer.from([1, ...host.split(".").map(Number)]) : Buffer.concat([Buffer.from([3, host.length]), Buffer.from(host)]);
  s.write(Buffer.concat([Buffer.from([5, 1, 0]), addr, Buffer.from([port >> 8, port & 255])]));
  const reply = await read(10);
  assert.equal(reply[1], 0, "SOCKS5 CONNECT succeeded");
  return s;
}

async function rawSession(port: number, user = "app", via?: Socket): Promise<Raw & { startup: Frame[] }> {
  const socket = via ?? (await rawConnect(port));
  socket.write(startupMessage(new Map([["user", user], ["database", "appdb"]])));
  const ms = new MessageStream(socket, 1 << 20);
  const untilReady = async () => {
    const out: Frame[] = [];
    for (;;) {
      const f = await ms.next(10_000);
      out.push(f);
      if (f.type === "Z") return out;
    }
  };
  return { socket, ms, untilReady, startup: await untilReady() };
}

const query = (sql: string) => message("Q", sql);
const parse = (name: string, sql: string) => message("P", cstr(name), cstr(sql), int16(0));
const bind = (portal: string, stmt: string) => message("B", cstr(portal), cstr(stmt), int16(0), int16(0), int16(0));
const execute = (portal: string) => message("E", cstr(portal), int32(0));
const describePortal = (portal: string) => message("D", Buffer.from("P"), cstr(portal));
const sync = () => message("S");
const types = (frames: Frame[]) => frames.map((f) => f.type).join("");
const errorOf = (f: Frame) => Object.fromEntries(parseErrorFields(f.body));

/** Resolves once the socket is closed by the peer (or rejects after `ms`). */
function closed(s: Socket, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    s.on("data", (d: Buffer) => (data += d.toString("latin1")));
    const t = setTimeout(() => reject(new Error("socket not closed")), ms);
    s.once("close", () => {
      clearTimeout(t);
      resolve(data);
    });
    s.on("error", () => {});
    s.resume();
  });
}

describe("postgres wire handling from a raw socket", { skip }, () => {
  let w: PgWorld;
  before(async () => {
    w = await startPgWorld();
  });
  after(async () => {
    await w?.close();
  });

  it("startup: AuthenticationOk, the server's parameters, a gateway-issued cancel key", async () => {
    const r = await rawSession(w.ports.db);
    const t = types(r.startup);
    assert.match(t, /^RS+KZ$/);
    assert.equal(r.startup[0]!.body.readInt32BE(0), 0, "AuthenticationOk");
    const params = r.startup.filter((f) => f.type === "S").map((f) => f.body.toString().split("\0")[0]);
    assert.ok(params.includes("server_version") && params.includes("client_encoding"));
    const key = r.startup.find((f) => f.type === "K")!;
    r.socket.write(query("select pg_backend_pid()"));
    const res = await r.untilReady();
    const pid = Number(res.find((f) => f.type === "D")!.body.subarray(6).toString());
    assert.notEqual(key.body.readInt32BE(0), pid, "the agent never sees the upstream backend's real key");
    r.socket.end(message("X"));
  });

  it("pipelined extended batches: a denied Parse errors, the rest of its batch is skipped, the next batch runs", async () => {
    const r = await rawSession(w.ports.db);
    r.socket.write(
      Buffer.concat([
        parse("", "select 1"),
        bind("", ""),
        execute(""),
        parse("", "delete from items"),
        bind("", ""),
        execute(""),
        sync(),
        parse("", "select 2"),
        bind("", ""),
        describePortal(""),
        execute(""),
        sync(),
        query("select 3"),
      ]),
    );
    const first = await r.untilReady();
    // select 1 ran (ParseComplete, BindComplete, DataRow, CommandComplete), then our error, then ReadyForQuery.
    assert.equal(types(first), "12DCEZ");
    const err = errorOf(first[4]!);
    assert.equal(err["C"], "42501");
    assert.equal(err["M"], "read-only access: writes are not allowed");
    assert.equal(first[5]!.body.toString(), "I");
    const second = await r.untilReady();
    assert.equal(types(second), "12TDCZ");
    const third = await r.untilReady();
    assert.equal(types(third), "TDCZ");
    assert.equal(await w.pg.sql("select count(*) from items", { database: "appdb" }), "5");
    r.socket.end(message("X"));
  });

  it("an upstream error earlier in a batch suppresses the gateway's own error, as Postgres would", async () => {
    const r = await rawSession(w.ports.db);
    r.socket.write(Buffer.concat([parse("", "select * from no_such_table"), parse("", "delete from items"), sync()]));
    const frames = await r.untilReady();
    assert.equal(types(frames), "EZ");
    assert.equal(errorOf(frames[0]!)["C"], "42P01", "only upstream's undefined_table error");
    r.socket.end(message("X"));
  });

  it("a deny inside a transaction block reports the block's status and does not abort it", async () => {
    const r = await rawSession(w.ports.db);
    r.socket.write(query("begin"));
    assert.equal((await r.untilReady()).at(-1)!.body.toString(), "T");
    r.socket.write(query("drop table items"));
    const denied = await r.untilReady();
    assert.equal(types(denied), "EZ");
    assert.equal(denied[1]!.body.toString(), "T");
    r.socket.write(query("select count(*) from items"));
    assert.equal(types(await r.untilReady()), "TDCZ");
    r.socket.write(query("commit"));
    assert.equal((await r.untilReady()).at(-1)!.body.toString(), "I");
    r.socket.end(message("X"));
  });

  it("FunctionCall is denied and the session goes on", async () => {
    const r = await rawSession(w.ports.db);
    // FunctionCall of pg_terminate_backend-like OIDs: never sent upstream.
    r.socket.write(message("F", int32(2096), int16(0), int16(1), int32(4), int32(1), int16(0)));
    const f = await r.untilReady();
    assert.equal(types(f), "EZ");
    assert.equal(errorOf(f[0]!)["C"], "42501");
    r.socket.write(query("select 1"));
    assert.equal(types(await r.untilReady()), "TDCZ");
    r.socket.end(message("X"));
  });

  it("malformed, truncated and oversized frames get an error and a closed connection, never a crash", async () => {
    const cases: [string, Buffer, RegExp][] = [
      ["unknown message type", Buffer.concat([message("!", Buffer.from("x"))]), /unexpected message type/],
      ["negative length", Buffer.from([0x51, 0xff, 0xff, 0xff, 0xf0]), /invalid message length/],
      ["oversized declared length", Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]), /exceeds/],
      ["query without its NUL", message("Q", Buffer.from("select 1")), /unterminated/],
      ["bind with a short body", message("B", Buffer.from("a")), /protocol violation/],
      ["password message after startup", message("p", "hunter2"), /unexpected message type/],
    ];
    for (const [name, bytes, want] of cases) {
      const r = await rawSession(w.ports.db);
      r.ms.detach();
      const done = closed(r.socket);
      r.socket.write(bytes);
      const data = await done;
      assert.match(data, want, name);
      assert.match(data, /08P01/, name);
    }
    // Truncated frame, then the agent goes away: the gateway drops it quietly.
    const t = await rawSession(w.ports.db);
    t.socket.end(Buffer.from([0x51, 0, 0, 0, 50, 0x73]));
    // Broken startup packets: impossible lengths are refused at once; a truncated one when the agent stops sending.
    for (const bytes of [Buffer.from([0, 0, 0, 3]), Buffer.from([0, 0, 0x7f, 0xff, 0, 3, 0, 0]), Buffer.concat([int32(8), int32(1234)])]) {
      const s = await rawConnect(w.ports.db);
      const done = closed(s);
      s.write(bytes);
      assert.match(await done, /08P01/);
    }
    const half = await rawConnect(w.ports.db);
    const halfDone = closed(half);
    half.end(int32(8));
    await halfDone;
    const ok = await psql(w.ports.db, "app", ["select 'still serving'"]);
    assert.equal(ok.stdout.trim(), "still serving");
  });

  it("bytes pipelined behind an SSLRequest are refused (no plaintext injected into TLS)", async () => {
    const s = await rawConnect(w.ports.db);
    const done = closed(s);
    s.write(Buffer.concat([sslRequest(), query("select 1")]));
    const data = await done;
    assert.ok(!data.startsWith("S"), "the gateway must not start TLS");
  });

  it("GSSENCRequest is refused with N and the client may continue in the clear", async () => {
    const s = await rawConnect(w.ports.db);
    s.write(message(undefined, 80877104));
    const ms = new MessageStream(s, 1 << 20);
    const n = await new Promise<Buffer>((resolve) => s.once("data", resolve));
    ms.detach();
    assert.equal(n.toString(), "N");
    s.destroy();
  });

  it("is reachable through the SOCKS5 proxy transport, by name and by the address the name resolves to", async () => {
    for (const host of ["db.internal", "127.0.0.1"]) {
      const r = await rawSession(0, "app", await socksConnect(w.ports.socks, host, w.pg.port));
      r.socket.write(query("select current_user"));
      const res = await r.untilReady();
      assert.equal(types(res), "TDCZ", host);
      r.socket.write(query("delete from items"));
      const denied = await r.untilReady();
      assert.equal(errorOf(denied[0]!)["C"], "42501", `${host}: intercepted, not relayed`);
      r.socket.end(message("X"));
    }
  });

  it("a CancelRequest with an unknown key is ignored; the session it does not name keeps running", async () => {
    const r = await rawSession(w.ports.db);
    const c = await rawConnect(w.ports.db);
    const done = closed(c);
    c.write(message(undefined, 80877102, 12345, 67890));
    await done;
    r.socket.write(query("select 1"));
    assert.equal(types(await r.untilReady()), "TDCZ");
    r.socket.end(message("X"));
  });
});
