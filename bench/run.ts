/**
 * `npm run bench`: runs every benchmark in this folder in turn. Each prints its
 * figures as ratios against a baseline measured in the same run.
 * `npm run bench -- --detail` adds per-case breakdowns.
 */
import { runHttpsBench } from "./https.js";
import { runPolicyBench } from "./policy.js";
import { runDashboardBench } from "./dashboard.js";
import { runSshBench } from "./ssh.js";
import { runPostgresBench } from "./postgres.js";
import { runWireguardBench } from "./wireguard.js";

const detail = process.argv.includes("--detail");
await runPolicyBench(detail);
await runHttpsBench(detail);
await runPostgresBench(detail);
await runSshBench(detail);
await runDashboardBench(detail);
await runWireguardBench(detail);
