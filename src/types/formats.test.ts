import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkHostEntry,
  checkHttpUrl,
  checkListenAddress,
  isTimeZone,
  parseDuration,
  parseIpv4Cidr,
  parseSize,
  reduceUrlToHost,
} from "./formats.js";

const ms = (s: string) => {
  const p = parseDuration(s);
  return p.ok ? p.value : p.error;
};

test("durations use Go's grammar", () => {
  assert.equal(ms("30s"), 30_000);
  assert.equal(ms("5m"), 300_000);
  assert.equal(ms("1h30m"), 5_400_000);
  assert.equal(ms("1.5h"), 5_400_000);
  assert.equal(ms("300ms"), 300);
  assert.equal(ms("0"), 0);
  assert.equal(ms("-2s"), -2000);
  assert.equal(ms("720h"), 2_592_000_000);
  assert.equal(ms("5"), 'time: missing unit in duration "5"');
  assert.equal(ms("5 m"), 'time: unknown unit " m" in duration "5 m"');
  assert.equal(ms("5d"), 'time: unknown unit "d" in duration "5d"');
  assert.equal(ms(""), 'time: invalid duration ""');
  assert.equal(ms("m"), 'time: invalid duration "m"');
});

test("sizes: binary units, case-insensitive, positive", () => {
  const v = (s: string) => {
    const p = parseSize(s);
    return p.ok ? p.value : p.error;
  };
  assert.equal(v("256KiB"), 262_144);
  assert.equal(v("1MiB"), 1_048_576);
  assert.equal(v("1m"), 1_048_576);
  assert.equal(v("4096"), 4096);
  assert.equal(v("2 GiB"), 2 * 1024 ** 3);
  assert.equal(v("10B"), 10);
  assert.equal(v("1MB"), 'size "1MB": unknown unit "MB" (use B, KiB, MiB, or GiB)');
  assert.equal(v("0"), 'size "0" must be positive');
  assert.equal(v("KiB"), 'size "KiB" has no numeric value');
  assert.equal(v(""), "empty size string");
});

test("host entries", () => {
  assert.equal(checkHostEntry("api.github.com", { wildcard: false }), undefined);
  assert.equal(checkHostEntry("*.amazonaws.com", { wildcard: true }), undefined);
  assert.equal(checkHostEntry("*.amazonaws.com", { wildcard: false }), "wildcards are not allowed here");
  assert.equal(checkHostEntry("198.51.100.10", { wildcard: false }), undefined);
  assert.equal(checkHostEntry("[::1]:8443", { wildcard: false }), undefined);
  assert.equal(checkHostEntry("::1", { wildcard: false }), undefined);
  assert.equal(checkHostEntry("999.1.1.1", { wildcard: false }), 'invalid IPv4 address "999.1.1.1"');
  assert.equal(checkHostEntry("host:0", { wildcard: false }), "port 0 out of range 1-65535");
  assert.equal(checkHostEntry("-bad.example", { wildcard: false }), 'invalid host name label "-bad"');
});

test("URL reduction for kubernetes server values", () => {
  assert.equal(reduceUrlToHost("https://k8s.example.com:6443"), "k8s.example.com:6443");
  assert.equal(reduceUrlToHost("https://k8s.example.com/api"), "k8s.example.com");
  assert.equal(reduceUrlToHost("http://10.0.0.1:8080"), "10.0.0.1:8080");
  assert.equal(reduceUrlToHost(" 198.51.100.10 "), "198.51.100.10");
});

test("listen addresses, CIDRs, URLs, time zones", () => {
  assert.equal(checkListenAddress("127.0.0.1:8080"), undefined);
  assert.equal(checkListenAddress("0.0.0.0:51820"), undefined);
  assert.equal(checkListenAddress(":8080"), undefined);
  assert.equal(checkListenAddress("[::]:8080"), undefined);
  assert.equal(checkListenAddress("gw.example.com:51820"), undefined);
  assert.equal(checkListenAddress("127.0.0.1"), 'missing port in address "127.0.0.1"');
  assert.equal(checkListenAddress("host:http"), 'invalid port "http"');
  assert.ok(parseIpv4Cidr("10.55.0.0/24").ok);
  assert.ok(!parseIpv4Cidr("10.55.0.0").ok);
  assert.ok(!parseIpv4Cidr("10.55.0.300/24").ok);
  assert.ok(!parseIpv4Cidr("10.55.0.0/33").ok);
  assert.ok(!parseIpv4Cidr("fd00::/64").ok);
  assert.equal(checkHttpUrl("https://gw.example.test"), undefined);
  assert.equal(checkHttpUrl("http://66.42.120.196:8080"), undefined);
  assert.equal(checkHttpUrl("ftp://x"), 'scheme must be http or https, got "ftp"');
  assert.equal(checkHttpUrl("gw.example.test"), '"gw.example.test" is not an absolute URL');
  assert.ok(isTimeZone("Europe/Berlin"));
  assert.ok(isTimeZone("UTC"));
  assert.ok(!isTimeZone("Mars/Olympus"));
  assert.ok(!isTimeZone(""));
});
