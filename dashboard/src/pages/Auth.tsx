/** /setup (first password) and /login. */
import { useState, type FormEvent, type ReactNode } from "react";
import type { SessionInfo } from "../../../src/web/api.ts";
import { api, errorText } from "../api.ts";
import { Logo } from "../components/Logo.tsx";
import { ErrorBox } from "../components/ui.tsx";

function Shell({ title, sub, children }: { title: string; sub: string; children: ReactNode }): ReactNode {
  return (
    <div className="center-page">
      <div className="auth-card">
        <div className="brand big">
          <Logo />
          Claw Patrol
        </div>
        <h1>{title}</h1>
        <p className="dim">{sub}</p>
        {children}
      </div>
    </div>
  );
}

export function LoginPage({ onSession }: { onSession: (s: SessionInfo) => void }): ReactNode {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await api.post<SessionInfo>("/api/login", { username, password }, { noRedirect: true });
      onSession(s);
    } catch (err) {
      setError(errorText(err));
      setPassword("");
    } finally {
      setBusy(false);
    }
  };
  return (
    <Shell title="Sign in" sub="Gateway operator console">
      <form onSubmit={(e) => void submit(e)} className="form">
        <label>
          Username
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        <ErrorBox error={error} />
        <button className="btn primary" type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </Shell>
  );
}

/** Mirrors the server's MIN_PASSWORD_LENGTH (src/web/auth/password.ts); the server has the last word. */
export const MIN_PASSWORD = 10;

export function SetupPage({ onSession }: { onSession: (s: SessionInfo) => void }): ReactNode {
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (password !== confirm) return setError("The passwords do not match.");
    if (password.length < MIN_PASSWORD) return setError(`Use at least ${MIN_PASSWORD} characters.`);
    setBusy(true);
    setError(null);
    try {
      const r = await api.post<Partial<SessionInfo> | null>("/api/setup", { username: username.trim() || undefined, password }, { noRedirect: true });
      // Setup answers with a session; sign in explicitly should it not.
      if (r && typeof r === "object" && typeof r.csrfToken === "string" && r.username && r.role) onSession(r as SessionInfo);
      else {
        const user = (r && typeof r === "object" && r.username) || username.trim();
        onSession(await api.post<SessionInfo>("/api/login", { username: user, password }, { noRedirect: true }));
      }
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Shell title="Set the first password" sub="No operator exists yet. This account is an admin and can add other users later.">
      <form onSubmit={(e) => void submit(e)} className="form">
        <label>
          Username
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required autoFocus />
        </label>
        <label>
          Confirm password
          <input name="confirm" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required />
        </label>
        <ErrorBox error={error} />
        <button className="btn primary" type="submit" disabled={busy}>
          {busy ? "Saving…" : "Set password and sign in"}
        </button>
      </form>
    </Shell>
  );
}
