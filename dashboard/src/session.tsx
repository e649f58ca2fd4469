/** The signed-in user, their role, and what that role may do. */
import { createContext, useContext } from "react";
import { ROLE_RANK } from "../../src/web/api.ts";
import type { GatewayState, Role, SessionInfo } from "../../src/web/api.ts";

export interface SessionCtx {
  session: SessionInfo;
  state: GatewayState | null;
  refreshState: () => void;
  logout: () => void;
}

export const Session = createContext<SessionCtx | null>(null);

export function useSession(): SessionCtx {
  const s = useContext(Session);
  if (!s) throw new Error("no session");
  return s;
}

export function atLeast(role: Role, need: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[need];
}

/** Capabilities by role: viewer reads; approver decides; admin does everything. */
export function useCan() {
  const { session } = useSession();
  return {
    decide: atLeast(session.role, "approver"),
    admin: atLeast(session.role, "admin"),
  };
}
