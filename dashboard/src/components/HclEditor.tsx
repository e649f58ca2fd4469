/** A plain textarea with a line-number gutter, and jump-to-line:col. */
import { useImperativeHandle, useMemo, useRef, type ReactNode, type Ref } from "react";
import type { DiagnosticInfo } from "../../../src/web/api.ts";

export interface EditorHandle {
  jump: (line: number, column: number) => void;
}

export function HclEditor(props: {
  value: string;
  onChange?: (v: string) => void;
  readOnly?: boolean;
  errorLines?: Set<number>;
  ref?: Ref<EditorHandle>;
  rows?: number;
  label?: string;
}): ReactNode {
  const ta = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLDivElement>(null);
  const lines = useMemo(() => props.value.split("\n").length, [props.value]);

  useImperativeHandle(props.ref, () => ({
    jump(line: number, column: number) {
      const el = ta.current;
      if (!el) return;
      const all = el.value.split("\n");
      let pos = 0;
      for (let i = 0; i < Math.min(line - 1, all.length); i++) pos += all[i]!.length + 1;
      pos += Math.max(0, Math.min(column - 1, (all[line - 1] ?? "").length));
      el.focus();
      el.setSelectionRange(pos, pos);
      const lh = parseFloat(getComputedStyle(el).lineHeight) || 18;
      el.scrollTop = Math.max(0, (line - 5) * lh);
    },
  }));

  const nums: ReactNode[] = [];
  for (let i = 1; i <= lines; i++)
    nums.push(
      <div key={i} className={props.errorLines?.has(i) ? "ln err" : "ln"}>
        {i}
      </div>,
    );

  return (
    <div className="editor" style={{ height: `${(props.rows ?? 30) * 1.5}em` }}>
      <div className="gutter" ref={gutter} aria-hidden="true">
        {nums}
      </div>
      <textarea
        ref={ta}
        aria-label={props.label ?? "HCL config"}
        spellCheck={false}
        autoCapitalize="off"
        autoComplete="off"
        wrap="off"
        readOnly={props.readOnly}
        value={props.value}
        onChange={(e) => props.onChange?.(e.target.value)}
        onScroll={(e) => {
          if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
        }}
        onKeyDown={(e) => {
          if (e.key === "Tab" && !props.readOnly) {
            e.preventDefault();
            const el = e.currentTarget;
            const s = el.selectionStart;
            const v = el.value.slice(0, s) + "  " + el.value.slice(el.selectionEnd);
            props.onChange?.(v);
            requestAnimationFrame(() => el.setSelectionRange(s + 2, s + 2));
          }
        }}
      />
    </div>
  );
}

/** `file:line:col` → [line, col] when the diagnostic lacks the numbers. */
export function diagPos(d: DiagnosticInfo): [number, number] | null {
  if (d.line) return [d.line, d.column ?? 1];
  const m = /:(\d+):(\d+)(?:-|$)/.exec(d.location) ?? /:(\d+)$/.exec(d.location);
  if (!m) return null;
  return [Number(m[1]), Number(m[2] ?? 1)];
}

export function Diagnostics(props: { diagnostics: DiagnosticInfo[]; onJump?: (line: number, col: number) => void }): ReactNode {
  if (props.diagnostics.length === 0) return null;
  return (
    <ul className="diags">
      {props.diagnostics.map((d, i) => {
        const pos = diagPos(d);
        return (
          <li key={i} className={d.severity}>
            <button type="button" className="link" disabled={!pos || !props.onJump} onClick={() => pos && props.onJump?.(pos[0], pos[1])}>
              {pos ? `${pos[0]}:${pos[1]}` : d.location || "—"}
            </button>
            <span className={`badge ${d.severity === "error" ? "bad" : "warn"}`}>{d.severity}</span>
            <strong>{d.summary}</strong>
            {d.detail && <span className="detail"> — {d.detail}</span>}
          </li>
        );
      })}
    </ul>
  );
}
