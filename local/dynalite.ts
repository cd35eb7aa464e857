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
  if (options.path) await claim(options.path);
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

/** Another process (another `npm start`, a watcher run) holds the register's files. */
export class RegisterInUseError extends Error {
  override readonly name = "RegisterInUseError";
  constructor(readonly path: string) {
    super(`the register's files under ${path} are held by another process`);
  }
}

type LevelFactory = new (path: string) => { open(): Promise<void>; close(): Promise<void> };

/**
 * Opens and closes the LevelDB store dynalite is about to open, to learn whether another process holds
 * its LOCK. dynalite opens it lazily and, if it cannot, fails the first request from inside its HTTP
 * handler with a bare "Database is closed": an uncaught exception that ends the process with a stack
 * trace and no word of the cause. Asked first, LevelDB says LEVEL_LOCKED.
 */
async function claim(path: string): Promise<void> {
  // The very `level` dynalite opens its store with, whatever version that is.
  const requireFromDynalite = createRequire(createRequire(import.meta.url).resolve("dynalite"));
  const { Level } = requireFromDynalite("level") as { Level: LevelFactory };
  const store = new Level(path);
  try {
    await store.open();
  } catch (error) {
    const cause = (error as { cause?: { code?: unknown } }).cause;
    if (cause?.code === "LEVEL_LOCKED") throw new RegisterInUseError(path);
    throw error;
  }
  await store.close();
}
