// Builds the dashboard SPA into dist/dashboard, which the gateway serves on
// `dashboard_listen`. No React plugin: Vite's built-in transformer (Oxc in
// Vite 8, the successor of its esbuild step) compiles TSX with the automatic
// JSX runtime. No inline scripts or external assets: the server's CSP is
// `default-src 'self'`.
import { defineConfig } from "vite";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: here,
  base: "/",
  publicDir: false,
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: fileURLToPath(new URL("../dist/dashboard", import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
    // Keep every asset a file (no data: URIs), so the CSP needs nothing but 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: { "/api": { target: process.env.CLAWPATROL_DASHBOARD_API ?? "http://127.0.0.1:8787", changeOrigin: false } },
  },
});
