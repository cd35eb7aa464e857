import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ensureTable } from "../shared/adapters/dynamodb/table.ts";
import { routes } from "../shared/api/routes.ts";
import { log } from "../shared/log.ts";
import { type Authorizer, gateway, type ProxyHandler } from "./gateway.ts";

export interface LocalApiOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /**
   * The functions' environment (TABLE_NAME, DYNAMODB_ENDPOINT, BILLMGR_URL, BILLMGR_CREDENTIALS,
   * API_TOKEN, NOW, …). Set before the handler modules load, as Lambda would.
   */
  env: Record<string, string>;
  /** Runs the reconciler (`functions/reconciler.ts`) this often, as the stack's schedule does; off if unset. */
  reconcileEveryMs?: number;
}

export interface LocalApi {
  url: string;
  close(): Promise<void>;
}

/** The API on a local port, running the very handler modules Lambda runs. */
export async function startLocalApi(options: LocalApiOptions): Promise<LocalApi> {
  Object.assign(process.env, options.env);
  const endpoint = options.env.DYNAMODB_ENDPOINT;
  const table = options.env.TABLE_NAME;
  if (endpoint && table) {
    const client = new DynamoDBClient({ endpoint });
    await ensureTable(client, table);
    client.destroy();
  }
  const handlers = await Promise.all(
    routes.map(async (route) => {
      const module = (await import(`../functions/${route.handler}.ts`)) as { handler: ProxyHandler };
      return { route, handler: module.handler };
    }),
  );
  const { handler: authorizer } = (await import("../functions/authorizer.ts")) as { handler: Authorizer };

  const server = createServer({ keepAliveTimeout: 30_000 }, gateway(handlers, authorizer));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const reconciler = options.reconcileEveryMs ? await startReconciler(options.reconcileEveryMs) : undefined;
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    close: async () => {
      await reconciler?.stop();
      await new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      });
    },
  };
}

/** The reconciler on a timer, one pass at a time; a failed pass is logged and the next one tries again. */
async function startReconciler(everyMs: number): Promise<{ stop(): Promise<void> }> {
  const { handler } = (await import("../functions/reconciler.ts")) as { handler: () => Promise<unknown> };
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() =>
      handler().catch((error: unknown) => log("ERROR", "reconcile pass failed", { error: String(error) })),
    );
  }, everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
