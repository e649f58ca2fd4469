import { createServer } from "node:net";

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for configs whose
 * listeners must name a concrete port (port 0 is rejected there). Bind,
 * read, close: racy in theory, fine for tests and benchmarks.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
