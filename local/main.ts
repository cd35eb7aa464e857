import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { DEFAULT_CREDENTIALS, startSandbox } from "../sandbox/server.ts";
import { parseInstant } from "../shared/dates.ts";
import { startDynalite } from "./dynalite.ts";
import { startLocalApi } from "./server.ts";

/**
 * `npm start`: the whole API on 127.0.0.1 with no AWS account and no network: dynalite kept
 * under DATA_DIR, the vendor sandbox (unless BILLMGR_URL names a vendor), and the handlers.
 */
const env = process.env;
const dataDir = resolve(env.DATA_DIR ?? ".local");
const port = Number(env.PORT ?? 3000);
const dynamoPort = Number(env.DYNAMODB_PORT ?? 8000);
const now = env.NOW ? parseInstant(env.NOW) : undefined;
if (env.NOW && !now) throw new Error("NOW must be an ISO date or date-time, e.g. 2021-05-01");

mkdirSync(dataDir, { recursive: true });
const dynamo = await startDynalite({ path: resolve(dataDir, "dynamodb"), port: dynamoPort });

/** The sandbox's licences and balance outlive a restart, like the register beside them. */
const sandboxFile = resolve(dataDir, "sandbox.json");
function restoreSandbox(box: Awaited<ReturnType<typeof startSandbox>>): void {
  if (!existsSync(sandboxFile)) return;
  const saved = JSON.parse(readFileSync(sandboxFile, "utf8")) as ReturnType<typeof box.state.snapshot>;
  box.state.setBalance(saved.balanceMinor);
  for (const licence of saved.licences) box.state.seed({ ...licence, key: licence.key ?? "" });
}

let vendorLine: string;
let sandbox: Awaited<ReturnType<typeof startSandbox>> | undefined;
const vendorEnv: Record<string, string> = {};
if (env.BILLMGR_URL) {
  if (!env.BILLMGR_CREDENTIALS && !env.BILLMGR_CREDENTIALS_PARAM) {
    throw new Error("BILLMGR_URL is set: set BILLMGR_CREDENTIALS (user:password) too");
  }
  vendorLine = `${env.BILLMGR_URL} (from BILLMGR_URL)`;
} else {
  const credentials = env.SANDBOX_CREDENTIALS ?? DEFAULT_CREDENTIALS;
  sandbox = await startSandbox({ port: Number(env.SANDBOX_PORT ?? 8089), credentials, now });
  restoreSandbox(sandbox);
  vendorEnv.BILLMGR_URL = sandbox.url;
  vendorEnv.BILLMGR_CREDENTIALS = credentials;
  vendorLine = `the in-process sandbox at ${sandbox.url} (BILLMGR_URL unset)`;
}

const generated = env.API_TOKEN ? undefined : randomBytes(24).toString("base64url");
const token = env.API_TOKEN ?? (generated as string);

const api = await startLocalApi({
  port,
  env: {
    AWS_REGION: env.AWS_REGION ?? "local",
    AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID ?? "local",
    AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY ?? "local",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    TABLE_NAME: env.TABLE_NAME ?? "licence-desk",
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    API_TOKEN: token,
    ...vendorEnv,
  },
});

console.log(`licence desk API listening on ${api.url}`);
console.log(`  register: dynalite at ${dynamo.endpoint}, data in ${dataDir}`);
console.log(`  vendor:   ${vendorLine}`);
console.log(
  `  clock:    ${now ? `pinned to ${now.toISOString()} (NOW)` : "real time (set NOW=2021-05-01 to pin it)"}`,
);
console.log(
  generated
    ? `  auth:     Authorization: Bearer ${generated}   (generated for this run; set API_TOKEN to choose one)`
    : "  auth:     Authorization: Bearer $API_TOKEN",
);
console.log(
  `  try:      curl -s -H "Authorization: Bearer ${generated ?? "$API_TOKEN"}" "${api.url}/licenses"`,
);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: shutting down`);
  await api.close();
  if (sandbox) {
    writeFileSync(sandboxFile, JSON.stringify(sandbox.state.snapshot(), null, 2));
    await sandbox.close();
  }
  await dynamo.close();
  process.exit(0);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
