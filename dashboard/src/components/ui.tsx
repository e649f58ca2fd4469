/** Small shared pieces: badges, messages, JSON and header views. */
import type { ReactNode } from "react";

export function Verdict({ v }: { v: string }): ReactNode {
  const cls = /^(allow|allowed)$/.test(v) ? "ok" : /^(deny|denied|error|blocked)$/.test(v) ? "bad" : /^(approve|pending)$/.test(v) ? "warn" : "muted";
  return <span className={`badge ${cls}`}>{v || "—"}</span>;
}

export function ErrorBox({ error }: { error: string | null | undefined }): ReactNode {
  if (!error) return null;
  return (
    <div className="msg error" role="alert">
      {error}
    </div>
  );
}

export function Notice({ children, kind = "info" }: { children: ReactNode; kind?: "info" | "ok" | "warn" }): ReactNode {
  return <div className={`msg ${kind}`}>{children}</div>;
}

export function Loading({ what }: { what?: string }): ReactNode {
  return <div className="loading">Loading{what ? ` ${what}` : ""}…</div>;
}

export function Empty({ children }: { children: ReactNode }): ReactNode {
  return <div className="empty">{children}</div>;
}

export function PageHead({ title, children }: { title: string; children?: ReactNode }): ReactNode {
  return (
    <header className="page-head">
      <h1>{title}</h1>
      <div className="page-tools">{children}</div>
    </header>
  );
}

/** Pretty JSON with light syntax colouring, no innerHTML. */
export function Json({ value }: { value: unknown }): ReactNode {
  // Arrays of scalars on one line keep facets dense.
  const text = (JSON.stringify(value, null, 2) ?? "null").replace(/\[\s*\n((?:\s*(?:"(?:[^"\\]|\\.)*"|-?[\d.eE+-]+|true|false|null),?\n)+)\s*\]/g, (_m, body: string) => {
    const items = body.split("\n").map((l) => l.trim().replace(/,$/, "")).filter(Boolean);
    const one = `[${items.join(", ")}]`;
    return one.length <= 100 ? one : _m;
  });
  const parts: ReactNode[] = [];
  const re = /("(?:[^"\\]|\\.)*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  let last = 0;
  let m: RegExpExecArray | null;
  let k = 0;
  while ((m = re.exec(text))) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    if (m[1]) {
      parts.push(
        <span key={k++} className={m[2] ? "j-key" : "j-str"}>
          {m[1]}
        </span>,
      );
      if (m[2]) parts.push(m[2]);
    } else if (m[3]) parts.push(<span key={k++} className="j-lit">{m[3]}</span>);
    else parts.push(<span key={k++} className="j-num">{m[4]}</span>);
    last = re.lastIndex;
  }
  parts.push(text.slice(last));
  return <pre className="json">{parts}</pre>;
}

export function Headers({ headers }: { headers: Record<string, string[]> | null }): ReactNode {
  if (!headers || Object.keys(headers).length === 0) return <Empty>not recorded</Empty>;
  return (
    <table className="kv mono">
      <tbody>
        {Object.entries(headers).flatMap(([k, vs]) =>
          (Array.isArray(vs) ? vs : [String(vs)]).map((v, i) => (
            <tr key={`${k}-${i}`}>
              <th>{k}</th>
              <td>{v}</td>
            </tr>
          )),
        )}
      </tbody>
    </table>
  );
}

export function Body({ body, binary }: { body: string | null; binary: boolean }): ReactNode {
  if (body === null || body === "") return <Empty>no body sampled</Empty>;
  let shown = body;
  if (!binary) {
    try {
      shown = JSON.stringify(JSON.parse(body), null, 2);
    } catch {
      /* not JSON: as is */
    }
  }
  return (
    <>
      {binary && <div className="hint">binary, shown as base64</div>}
      <pre className="body">{shown}</pre>
    </>
  );
}

/** `<dl>`-style key/value grid. */
export function Facts({ rows }: { rows: [string, ReactNode][] }): ReactNode {
  return (
    <dl className="facts">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
