/** /account — own password, API tokens; admins also manage users. */
import { useState, type FormEvent, type ReactNode } from "react";
import type { ApiTokenCreated, ApiTokenInfo, Role, SessionInfo, UserInfo } from "../../../src/web/api.ts";
import { api, enc, setCsrf } from "../api.ts";
import { Empty, ErrorBox, Notice, PageHead } from "../components/ui.tsx";
import { formatTime } from "../format.ts";
import { useAction, useLoad } from "../hooks.ts";
import { useCan, useSession } from "../session.tsx";


const ROLES: Role[] = ["viewer", "approver", "admin"];

function PasswordForm(): ReactNode {
  const [current, setCurrent] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [done, setDone] = useState(false);
  const act = useAction();
  const [mismatch, setMismatch] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setDone(false);
    if (password !== confirm) return setMismatch("The new passwords do not match.");
    setMismatch(null);
    const ok = await act.run(async () => {
      // Changing the password ends every session; the answer carries the fresh one (new CSRF token).
      const r = await api.put<Partial<SessionInfo>>("/api/account/password", { current, password });
      if (r && typeof r.csrfToken === "string") setCsrf({ csrfToken: r.csrfToken });
    });
    if (ok) {
      setDone(true);
      setCurrent("");
      setPassword("");
      setConfirm("");
    }
  };
  return (
    <section className="card">
      <h2>Password</h2>
      <form className="form narrow" onSubmit={(e) => void submit(e)}>
        <label>
          Current password
          <input type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required />
        </label>
        <label>
          New password
          <input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        <label>
          Confirm new password
          <input type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required />
        </label>
        <ErrorBox error={mismatch ?? act.error} />
        {done && <Notice kind="ok">Password changed.</Notice>}
        <button className="btn primary" type="submit" disabled={act.busy}>
          Change password
        </button>
      </form>
    </section>
  );
}

function Tokens(): ReactNode {
  const tokens = useLoad(async (signal) => {
    return api.get<ApiTokenInfo[]>("/api/tokens", { signal });
  }, []);
  const [name, setName] = useState("");
  const [shown, setShown] = useState<{ name: string; token: string } | null>(null);
  const act = useAction();
  const create = async (e: FormEvent) => {
    e.preventDefault();
    const n = name.trim();
    if (!n) return;
    await act.run(async () => {
      const r = await api.post<ApiTokenCreated>("/api/tokens", { name: n });
      setShown({ name: n, token: r.token });
      setName("");
      tokens.reload();
    });
  };
  return (
    <section className="card">
      <h2>API tokens</h2>
      <p className="dim">
        For scripts: send <code>Authorization: Bearer &lt;token&gt;</code>. A token has your role.
      </p>
      {shown && (
        <div className="msg ok token-once" data-testid="new-token">
          <div>
            Token <strong>{shown.name}</strong> — copy it now, it is not shown again:
          </div>
          <div className="row">
            <input className="mono grow" readOnly value={shown.token} onFocus={(e) => e.currentTarget.select()} aria-label="New token" />
            <button type="button" className="btn small" onClick={() => void navigator.clipboard?.writeText(shown.token)}>
              Copy
            </button>
            <button type="button" className="btn small" onClick={() => setShown(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      <form className="row" onSubmit={(e) => void create(e)}>
        <input placeholder="token name, e.g. ci-deploy" value={name} onChange={(e) => setName(e.target.value)} aria-label="Token name" />
        <button className="btn primary" type="submit" disabled={act.busy || !name.trim()}>
          Create token
        </button>
      </form>
      <ErrorBox error={tokens.error ?? act.error} />
      {tokens.data && tokens.data.length === 0 && <Empty>No tokens.</Empty>}
      {tokens.data && tokens.data.length > 0 && (
        <table className="grid">
          <thead>
            <tr>
              <th>Name</th>
              <th>Created</th>
              <th>Last used</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens.data.map((t) => (
              <tr key={t.id}>
                <td className="mono">{t.name}</td>
                <td className="mono nowrap">{formatTime(t.createdAt)}</td>
                <td className="mono nowrap">{formatTime(t.lastUsedAt)}</td>
                <td className="actions-cell">
                  <button
                    type="button"
                    className="btn small bad"
                    disabled={act.busy}
                    onClick={() => confirm(`Revoke token ${t.name}?`) && void act.run(() => api.del(`/api/tokens/${enc(t.id)}`)).then((ok) => ok && tokens.reload())}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Users(): ReactNode {
  const { session } = useSession();
  const users = useLoad((signal) => api.get<UserInfo[]>("/api/users", { signal }), []);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const act = useAction();
  const create = async (e: FormEvent) => {
    e.preventDefault();
    if (await act.run(() => api.post("/api/users", { username: username.trim(), password, role }))) {
      setUsername("");
      setPassword("");
      users.reload();
    }
  };
  return (
    <section className="card">
      <h2>Users</h2>
      <ErrorBox error={users.error ?? act.error} />
      {users.data && (
        <table className="grid">
          <thead>
            <tr>
              <th>User</th>
              <th>Role</th>
              <th>Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {users.data.map((u) => (
              <tr key={u.username}>
                <td className="mono">
                  {u.username}
                  {u.username === session.username && <span className="dim"> (you)</span>}
                </td>
                <td>
                  <select
                    aria-label={`Role of ${u.username}`}
                    value={u.role}
                    disabled={act.busy}
                    onChange={(e) => void act.run(() => api.put(`/api/users/${enc(u.username)}`, { role: e.target.value })).then(() => users.reload())}
                  >
                    {ROLES.map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                </td>
                <td className="mono nowrap">{formatTime(u.createdAt)}</td>
                <td className="actions-cell">
                  <button
                    type="button"
                    className="btn small bad"
                    disabled={act.busy || u.username === session.username}
                    title={u.username === session.username ? "You cannot delete yourself" : ""}
                    onClick={() => confirm(`Delete user ${u.username}?`) && void act.run(() => api.del(`/api/users/${enc(u.username)}`)).then((ok) => ok && users.reload())}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Add a user</h3>
      <form className="row wrap" onSubmit={(e) => void create(e)} autoComplete="off">
        <input placeholder="username" value={username} onChange={(e) => setUsername(e.target.value)} required aria-label="New username" />
        <input type="password" placeholder="initial password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required aria-label="Initial password" />
        <select value={role} onChange={(e) => setRole(e.target.value as Role)} aria-label="New user role">
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
        <button className="btn primary" type="submit" disabled={act.busy}>
          Add user
        </button>
      </form>
      <p className="hint">viewer: read-only · approver: also decides approvals · admin: everything, including config, credentials, devices and users.</p>
    </section>
  );
}

export function AccountPage(): ReactNode {
  const { session } = useSession();
  const can = useCan();
  return (
    <div>
      <PageHead title="Account">
        <span className="dim small">
          signed in as <span className="mono">{session.username}</span> ({session.role}), session until {formatTime(session.expiresAt)}
        </span>
      </PageHead>
      <div className="cols">
        <PasswordForm />
        <Tokens />
      </div>
      {can.admin && <Users />}
    </div>
  );
}
