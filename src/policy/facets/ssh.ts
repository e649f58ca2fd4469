/**
 * `ssh.*` facets: one SSH channel action (a pty request, an exec, a shell, a
 * subsystem, a direct-tcpip forward). The SSH runtime reads these from small,
 * fully-read channel envelopes, so only `ssh.stdin` can ever be unknown
 * (truncated), and that is the runtime's to report.
 */
import type { SshFacets } from "../action.js";

/** The channel action kinds the SSH runtime emits, as `ssh.verb` spells them. */
export const SSH_VERBS: readonly string[] = ["pty", "exec", "shell", "subsystem", "forward"];

/**
 * `ssh.*` facets with every field present: strings default to `""`,
 * `forward_port` to `0`, the verb is lower-cased. Rules read every field of
 * every action, so none may be missing. A port that is not a non-negative
 * safe integer (hostile wire data, a bad fixture) becomes `0` rather than an
 * exception: a port no forward rule names.
 */
export function sshFacets(init: Partial<SshFacets> = {}): SshFacets {
  const port = init.forward_port;
  return {
    verb: (init.verb ?? "").toLowerCase(),
    command: init.command ?? "",
    subsystem: init.subsystem ?? "",
    forward_host: init.forward_host ?? "",
    forward_port: typeof port === "number" && Number.isSafeInteger(port) && port >= 0 ? port : 0,
    user: init.user ?? "",
    stdin: init.stdin ?? "",
  };
}
