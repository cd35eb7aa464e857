import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { resolve } from "node:path";
import { DEFAULT_CREDENTIALS, type Sandbox, startSandbox } from "../sandbox/server.ts";
import { parseInstant } from "../shared/dates.ts";
import { LOCAL_AWS_ENV } from "./aws-env.ts";
import { startDynalite } from "./dynalite.ts";

/**
 * What `npm start`, `npm run watcher` and `npm run replay` run the functions against on a laptop:
 * dynalite (kept under DATA_DIR), the vendor sandbox unless BILLMGR_URL names a vendor, and the
 * environment the Lambda functions read.
 */
export interface LocalEnvironment {
  /** The functions' environment. */
  env: Record<string, string>;
  dataDir: string;
  dynamoEndpoint: string;
  /** Set when the sandbox runs in this process. */
  sandbox: Sandbox | undefined;
  vendorLine: string;
  registerLine: string;
  now: Date | undefined;
  close(): Promise<void>;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
  });
}

export async function localEnvironment(options: { joinRunning: boolean }): Promise<LocalEnvironment> {
  const env = process.env;
  const dataDir = resolve(env.DATA_DIR ?? ".local");
  const dynamoPort = Number(env.DYNAMODB_PORT ?? 8000);
  const sandboxPort = Number(env.SANDBOX_PORT ?? 8089);
  const now = env.NOW ? parseInstant(env.NOW) : undefined;
  if (env.NOW && !now) throw new Error("NOW must be an ISO date or date-time, e.g. 2021-05-01");
  mkdirSync(dataDir, { recursive: true });

  // A running `npm start` holds the register's files: join its engine and its sandbox instead.
  const joined = options.joinRunning && dynamoPort !== 0 && (await portOpen(dynamoPort));
  const dynamo = joined
    ? { endpoint: `http://127.0.0.1:${dynamoPort}`, close: async () => {} }
    : await startDynalite({ path: resolve(dataDir, "dynamodb"), port: dynamoPort });
  const registerLine = `dynalite at ${dynamo.endpoint}${joined ? " (the running npm start's)" : ""}, data in ${dataDir}`;

  const sandboxFile = resolve(dataDir, "sandbox.json");
  let sandbox: Sandbox | undefined;
  const vendorEnv: Record<string, string> = {};
  let vendorLine: string;
  if (env.BILLMGR_URL) {
    if (!env.BILLMGR_CREDENTIALS && !env.BILLMGR_CREDENTIALS_PARAM) {
      throw new Error("BILLMGR_URL is set: set BILLMGR_CREDENTIALS (user:password) too");
    }
    vendorLine = `${env.BILLMGR_URL} (from BILLMGR_URL)`;
  } else {
    const credentials = env.SANDBOX_CREDENTIALS ?? DEFAULT_CREDENTIALS;
    vendorEnv.BILLMGR_CREDENTIALS = credentials;
    if (joined && (await portOpen(sandboxPort))) {
      vendorEnv.BILLMGR_URL = `http://127.0.0.1:${sandboxPort}/manager/billmgr`;
      vendorLine = `the running npm start's sandbox at ${vendorEnv.BILLMGR_URL}`;
    } else {
      sandbox = await startSandbox({ port: sandboxPort, credentials, now });
      // The sandbox's licences and balance outlive a restart, like the register beside them.
      if (existsSync(sandboxFile)) {
        const saved = JSON.parse(readFileSync(sandboxFile, "utf8")) as ReturnType<
          Sandbox["state"]["snapshot"]
        >;
        sandbox.state.setBalance(saved.balanceMinor);
        for (const licence of saved.licences) sandbox.state.seed({ ...licence, key: licence.key ?? "" });
      }
      vendorEnv.BILLMGR_URL = sandbox.url;
      vendorLine = `the in-process sandbox at ${sandbox.url} (BILLMGR_URL unset)`;
    }
  }

  return {
    env: {
      ...LOCAL_AWS_ENV,
      TABLE_NAME: env.TABLE_NAME ?? "licence-desk",
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      OUTBOX_FILE: resolve(dataDir, "outbox.jsonl"),
      ...vendorEnv,
    },
    dataDir,
    dynamoEndpoint: dynamo.endpoint,
    sandbox,
    vendorLine,
    registerLine,
    now,
    async close() {
      if (sandbox) {
        writeFileSync(sandboxFile, JSON.stringify(sandbox.state.snapshot(), null, 2));
        await sandbox.close();
      }
      await dynamo.close();
    },
  };
}
