import type { ReactNode } from "react";

/** Three claw marks. */
export function Logo(): ReactNode {
  return (
    <svg className="logo" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
      <rect width="24" height="24" rx="5" fill="#1f2937" />
      <path d="M6 17l3-10M11 17l3-10M16 17l3-10" stroke="#f59e0b" strokeWidth="2.4" strokeLinecap="round" fill="none" />
    </svg>
  );
}
