/** docs/api.md documents every route of the contract. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ROUTES } from "./api.js";
import { handlerTable } from "./server.js";
import { EventStreams } from "./routes/events.js";
import type { WebDeps } from "./deps.js";

const docs = readFileSync(fileURLToPath(new URL("../../../docs/api.md", import.meta.url)), "utf8");

describe("docs/api.md", () => {
  it("lists every route of ROUTES with its access level", () => {
    for (const r of ROUTES) {
      const row = docs.split("\n").find((l) => l.startsWith(`| \`${r.method} ${r.path}\` |`));
      assert.ok(row, `docs/api.md has no row for ${r.method} ${r.path}`);
      assert.match(row, new RegExp(`^\\| \`[^\`]+\` \\| ${r.access} \\|`), `${r.method} ${r.path} access`);
    }
  });

  it("every route has exactly one handler", () => {
    const table = handlerTable(new EventStreams({} as WebDeps));
    assert.equal(Object.keys(table).length, ROUTES.length);
  });
});
