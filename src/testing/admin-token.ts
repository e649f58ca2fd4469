/** Test helper: an admin user with an API token, written straight into a gateway's store. */
import { randomBytes } from "node:crypto";
import type { Store } from "../store/db.js";
import { newApiToken, sha256Hex } from "../web/auth/tokens.js";

/** Creates (once) user `admin` and returns a fresh bearer token for it. */
export function adminToken(store: Store, username = "admin"): string {
  if (!store.users.get(username)) store.users.create(username, "admin", "not-a-real-hash");
  const token = newApiToken();
  store.users.createToken(randomBytes(9).toString("base64url"), username, "test", sha256Hex(token));
  return token;
}
