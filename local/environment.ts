import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { resolve } from "node:path";
import { listenFailure } from "../sandbox/ports.ts";
import { formatMinor } from "../sandbox/pricing.ts";
import { type Sandbox, startSandbox } from "../sandbox/server.ts";
import { LOCAL_AWS_ENV } from "./aws-env.ts";
import { RegisterInUseError, startDynalite } from "./dynalite.ts";
import { readLocalSettings, SettingError } from "./settings.ts";

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

/** A server being started; a port it cannot have becomes a SettingError naming the variable to change. */
async function listening<T>(
  starting: Promise<T>,
  port: { port: number; what: string; variable: string },
): Promise<T> {
  try {
    return await starting;
  } catch (error) {
    const problem = listenFailure(error, port.port, port.what, port.variable);
    throw problem ? new SettingError([problem]) : error;
  }
}

/**
 * The data directory's register is open in another process: another `npm start` (on another
 * DYNAMODB_PORT, or this one would have joined it or been told the port is taken) or a watcher run.
 */
function dataDirInUse(dataDir: string, joinRunning: boolean): string {
  const join = joinRunning
    ? "; to run against it, set DYNAMODB_PORT (and SANDBOX_PORT) to the ports that npm start printed"
    : "";
  return `the data directory ${dataDir} is in use by another npm start or watcher run (its register engine holds it); stop that one or set DATA_DIR to another directory${join}`;
}

export async function localEnvironment(options: {
  joinRunning: boolean;
  /** The sandbox's clock from its first moment (a watcher night): it must not sweep its book on today's. */
  now?: Date;
}): Promise<LocalEnvironment> {
  const env = process.env;
  const settings = readLocalSettings(env);
  const { dataDir, dynamoPort } = settings;
  const sandboxPort = settings.sandbox.port;
  const now = options.now ?? settings.sandbox.now;
  mkdirSync(dataDir, { recursive: true });

  // A running `npm start` holds the register's files: join its engine and its sandbox instead.
  const joined = options.joinRunning && dynamoPort !== 0 && (await portOpen(dynamoPort));
  const dynamo = joined
    ? { endpoint: `http://127.0.0.1:${dynamoPort}`, close: async () => {} }
    : await listening(startDynalite({ path: resolve(dataDir, "dynamodb"), port: dynamoPort }), {
        port: dynamoPort,
        what: "the register (dynalite)",
        variable: "DYNAMODB_PORT",
      }).catch((error: unknown) => {
        if (!(error instanceof RegisterInUseError)) throw error;
        throw new SettingError([dataDirInUse(dataDir, options.joinRunning)]);
      });
  const registerLine = `dynalite at ${dynamo.endpoint}${joined ? " (the running npm start's)" : ""}, data in ${dataDir}`;

  const sandboxFile = resolve(dataDir, "sandbox.json");
  let sandbox: Sandbox | undefined;
  const vendorEnv: Record<string, string> = {};
  let vendorLine: string;
  try {
    if (env.BILLMGR_URL) {
      if (!env.BILLMGR_CREDENTIALS && !env.BILLMGR_CREDENTIALS_PARAM) {
        throw new SettingError(["BILLMGR_URL is set: set BILLMGR_CREDENTIALS (user:password) too"]);
      }
      vendorLine = `${env.BILLMGR_URL} (from BILLMGR_URL)`;
    } else {
      const { credentials, balanceMinor } = settings.sandbox;
      vendorEnv.BILLMGR_CREDENTIALS = credentials;
      if (joined && (await portOpen(sandboxPort))) {
        vendorEnv.BILLMGR_URL = `http://127.0.0.1:${sandboxPort}/manager/billmgr`;
        vendorLine = `the running npm start's sandbox at ${vendorEnv.BILLMGR_URL}`;
      } else {
        sandbox = await listening(startSandbox({ port: sandboxPort, credentials, now, balanceMinor }), {
          port: sandboxPort,
          what: "the vendor sandbox",
          variable: "SANDBOX_PORT",
        });
        // The sandbox's licences and balance outlive a restart, like the register beside them; a
        // SANDBOX_BALANCE given for this run wins over the saved balance.
        if (existsSync(sandboxFile)) {
          const saved = JSON.parse(readFileSync(sandboxFile, "utf8")) as ReturnType<
            Sandbox["state"]["snapshot"]
          >;
          if (balanceMinor === undefined) sandbox.state.setBalance(saved.balanceMinor);
          for (const licence of saved.licences) sandbox.state.seed({ ...licence, key: licence.key ?? "" });
        }
        vendorEnv.BILLMGR_URL = sandbox.url;
        const balance = `${formatMinor(sandbox.state.balanceMinor)} ${sandbox.state.currency}`;
        vendorLine = `the in-process sandbox at ${sandbox.url} (BILLMGR_URL unset), balance ${balance}`;
      }
    }
  } catch (error) {
    await dynamo.close();
    throw error;
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
