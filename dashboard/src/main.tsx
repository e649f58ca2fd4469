import { StrictMode, useCallback, useEffect, useState, type ReactNode } from "react";
import { createRoot } from "react-dom/client";
import type { GatewayState, SessionInfo } from "../../src/web/api.ts";
import { api, ApiError, errorText, setCsrf } from "./api.ts";
import { Layout } from "./components/Layout.tsx";
import { ErrorBox, Loading } from "./components/ui.tsx";
import { AccountPage } from "./pages/Account.tsx";
import { AnalyticsPage } from "./pages/Analytics.tsx";
import { ApprovalsPage } from "./pages/Approvals.tsx";
import { CredentialsPage } from "./pages/Credentials.tsx";
import { DevicesPage } from "./pages/Devices.tsx";
import { LoginPage, SetupPage } from "./pages/Auth.tsx";
import { RequestDetailPage } from "./pages/RequestDetail.tsx";
import { RequestsPage } from "./pages/Requests.tsx";
import { RulesPage } from "./pages/Rules.tsx";
import { SettingsPage } from "./pages/Settings.tsx";
import { match, navigate, useLocation, Link } from "./router.tsx";
import { Session } from "./session.tsx";
import "./styles.css";

function Page({ path }: { path: string }): ReactNode {
  if (path === "/" || path === "/requests") return <RequestsPage />;
  const req = match("/requests/:id", path);
  if (req) return <RequestDetailPage id={req.id!} />;
  switch (path) {
    case "/approvals":
      return <ApprovalsPage />;
    case "/devices":
      return <DevicesPage />;
    case "/credentials":
      return <CredentialsPage />;
    case "/rules":
      return <RulesPage />;
    case "/analytics":
      return <AnalyticsPage />;
    case "/settings":
      return <SettingsPage />;
    case "/account":
      return <AccountPage />;
  }
  return (
    <div className="empty">
      No page at <code>{path}</code>. <Link to="/requests">Go to requests</Link>
    </div>
  );
}

type Boot = { kind: "loading" } | { kind: "setup" } | { kind: "login" } | { kind: "app"; session: SessionInfo } | { kind: "error"; error: string };

function App(): ReactNode {
  const loc = useLocation();
  const [boot, setBoot] = useState<Boot>({ kind: "loading" });
  const [state, setState] = useState<GatewayState | null>(null);

  const refreshState = useCallback(() => {
    api.get<GatewayState>("/api/state").then(setState, () => {});
  }, []);

  const start = useCallback(async () => {
    try {
      const setup = await api.get<{ needsSetup: boolean }>("/api/setup", { noRedirect: true });
      if (setup.needsSetup) {
        if (location.pathname !== "/setup") navigate("/setup", true);
        setBoot({ kind: "setup" });
        return;
      }
      if (location.pathname === "/setup") navigate("/login", true);
      if (location.pathname === "/login") {
        setBoot({ kind: "login" });
        return;
      }
      const session = await api.get<SessionInfo>("/api/session", { noRedirect: true });
      setCsrf(session);
      setBoot({ kind: "app", session });
      refreshState();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        const next = location.pathname + location.search;
        navigate(`/login${next && next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`, true);
        setBoot({ kind: "login" });
      } else setBoot({ kind: "error", error: errorText(e) });
    }
  }, [refreshState]);

  useEffect(() => {
    void start();
  }, [start]);

  // Navigating to /login or /setup from inside the app (e.g. sign out).
  useEffect(() => {
    if (boot.kind === "app" && (loc.path === "/login" || loc.path === "/setup")) setBoot({ kind: "login" });
  }, [loc.path, boot.kind]);

  const onSession = useCallback(
    (s: SessionInfo) => {
      setCsrf(s);
      setBoot({ kind: "app", session: s });
      const next = new URLSearchParams(location.search).get("next");
      navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/requests", true);
      refreshState();
    },
    [refreshState],
  );

  const logout = useCallback(() => {
    api.post("/api/logout").finally(() => {
      setCsrf(null);
      location.assign("/login");
    });
  }, []);

  switch (boot.kind) {
    case "loading":
      return <Loading />;
    case "error":
      return (
        <div className="center-page">
          <ErrorBox error={`Cannot reach the gateway: ${boot.error}`} />
          <button type="button" className="btn" onClick={() => void start()}>
            Retry
          </button>
        </div>
      );
    case "setup":
      return <SetupPage onSession={onSession} />;
    case "login":
      return <LoginPage onSession={onSession} />;
    case "app":
      return (
        <Session.Provider value={{ session: boot.session, state, refreshState, logout }}>
          <Layout path={loc.path}>
            <Page path={loc.path} />
          </Layout>
        </Session.Provider>
      );
  }
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
