/**
 * The WireGuard device's per-peer timer state machine (whitepaper §6): the
 * events the device reports (data sent / received, any authenticated packet
 * sent / received / traversing, a new session derived) arm or clear the
 * peer's named timers for handshake retransmission, new handshakes on
 * silence, keepalives, persistent keepalives and key erasure.
 *
 * Separate from ./device.ts so the rules of *when* something happens read
 * in one place, apart from *what* is sent; the actions themselves (a
 * handshake, a keepalive, wiping keys) stay on the device.
 */
import type { WireGuardDevice } from "./device.js";
import type { Peer, TimerName, Timing } from "./peer.js";

/** (Re)arms one of the peer's named timers; a throwing action is logged, never thrown. */
export function setTimer(dev: WireGuardDevice, peer: Peer, name: TimerName, ms: number, fn: () => void): void {
  clearTimer(peer, name);
  const t = setTimeout(() => {
    peer.timers.delete(name);
    if (dev.closed) return;
    try {
      fn();
    } catch (err) {
      dev.log("timer-error", { timer: name, message: (err as Error).message });
    }
  }, ms);
  t.unref();
  peer.timers.set(name, t);
}

export function clearTimer(peer: Peer, name: TimerName): void {
  const t = peer.timers.get(name);
  if (t) {
    clearTimeout(t);
    peer.timers.delete(name);
  }
}

/** Up to 333 ms at the default REKEY_TIMEOUT of 5 s (scaled with it). */
export function jitter(timing: Timing): number {
  return (Math.random() * timing.rekeyTimeout) / 15;
}

/** Data sent: expect an answer within KEEPALIVE + REKEY_TIMEOUT, else re-handshake. */
export function dataSent(dev: WireGuardDevice, peer: Peer): void {
  if (peer.timers.has("newHandshake")) return;
  setTimer(
    dev,
    peer,
    "newHandshake",
    dev.timing.keepaliveTimeout + dev.timing.rekeyTimeout + jitter(dev.timing),
    () => dev.initiateHandshake(peer, false),
  );
}

/** Data received: if we have nothing to say within KEEPALIVE_TIMEOUT, send a keepalive. */
export function dataReceived(dev: WireGuardDevice, peer: Peer): void {
  if (peer.timers.has("sendKeepalive")) return;
  setTimer(dev, peer, "sendKeepalive", dev.timing.keepaliveTimeout, () => {
    const kp = peer.current;
    if (kp && kp.canSend(Date.now())) dev.sendData(peer, kp, Buffer.alloc(0), Date.now());
  });
}

export function anyAuthenticatedPacketSent(peer: Peer): void {
  clearTimer(peer, "sendKeepalive");
}

export function anyAuthenticatedPacketReceived(peer: Peer): void {
  clearTimer(peer, "newHandshake");
}

export function anyAuthenticatedPacketTraversal(dev: WireGuardDevice, peer: Peer): void {
  if (peer.persistentKeepalive > 0) {
    setTimer(dev, peer, "persistentKeepalive", peer.persistentKeepalive * 1000, () => dev.sendKeepalive(peer));
  }
}

/** New session: all key material is erased after 3 × REJECT_AFTER_TIME without another. */
export function sessionDerived(dev: WireGuardDevice, peer: Peer): void {
  setTimer(dev, peer, "zeroKeys", dev.timing.rejectAfterTime * 3, () => dev.wipeKeys(peer));
}
