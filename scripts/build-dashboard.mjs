// Builds the dashboard SPA (dashboard/) into dist/dashboard, which the
// gateway serves. Skipped with a notice while the dashboard sources do not
// exist yet, so `npm run build` works at every commit.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const config = `${root}dashboard/vite.config.ts`;
if (!existsSync(config)) {
  console.log("dashboard: no dashboard/vite.config.ts; skipped");
  process.exit(0);
}
const vite = `${root}node_modules/vite/bin/vite.js`;
const r = spawnSync(process.execPath, [vite, "build", "--config", config, "--logLevel", "warn"], { stdio: "inherit", cwd: root });
process.exit(r.status ?? 1);
