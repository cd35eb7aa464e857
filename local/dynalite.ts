import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

export interface Dynalite {
  endpoint: string;
  close: () => Promise<void>;
}

type DynaliteFactory = (options: { path?: string; createTableMs?: number; deleteTableMs?: number }) => Server;

/**
 * dynalite, a DynamoDB-compatible engine in pure JavaScript, in this process: in memory, or kept
 * under `path` (LevelDB) across restarts. No Java needed; lacks transactions, UpdateTimeToLive and
 * ReturnValuesOnConditionCheckFailure, none of which the register uses.
 */
export async function startDynalite(options: { path?: string; port?: number } = {}): Promise<Dynalite> {
  // dynalite is CommonJS without type declarations.
  const dynalite = createRequire(import.meta.url)("dynalite") as DynaliteFactory;
  const server = dynalite({ path: options.path, createTableMs: 0, deleteTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
