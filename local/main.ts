import { listenFailure } from "../sandbox/ports.ts";
import { generateToken } from "../shared/auth/tokens.ts";
import { idempotencySettings, readServiceConfig } from "../shared/config.ts";
import { localEnvironment } from "./environment.ts";
import { startLocalApi } from "./server.ts";
import { checkFunctionSettings, readApiSettings, SettingError } from "./settings.ts";

/**
 * `npm start`: the whole API on 127.0.0.1 with no AWS account and no network: dynalite kept
 * under DATA_DIR, the vendor sandbox (unless BILLMGR_URL names a vendor), and the handlers. It stays
 * in the foreground until Ctrl-C (SIGINT) or SIGTERM.
 */

/** A setting to change is told in one line each (exit code 2); anything else is a bug, shown whole. */
async function started<T>(start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    if (!(error instanceof SettingError)) throw error;
    for (const problem of error.problems) console.error(`npm start: ${problem}`);
    process.exit(2);
  }
}

const local = await started(async () => {
  const settings = readApiSettings(process.env);
  const local = await localEnvironment({ joinRunning: false });
  const generated = process.env.API_TOKEN ? undefined : generateToken();
  const generatedOperator = process.env.OPERATOR_TOKEN ? undefined : generateToken();
  const env = {
    ...local.env,
    API_TOKEN: process.env.API_TOKEN ?? (generated as string),
    // A second client beside `local`, so both roles can be tried side by side; an operator's unless
    // OPERATOR_CLIENTS names others.
    OPERATOR_TOKEN: process.env.OPERATOR_TOKEN ?? (generatedOperator as string),
    OPERATOR_CLIENTS: process.env.OPERATOR_CLIENTS ?? "operator",
    ...(process.env.NOW ? { NOW: process.env.NOW } : {}),
  };
  try {
    checkFunctionSettings({ ...process.env, ...env });
    const api = await startLocalApi({
      port: settings.port,
      env,
      // Unknown money outcomes are settled in the background, as the stack's 15-minute schedule does.
      reconcileEveryMs: settings.reconcileEverySeconds * 1000,
    });
    return { ...local, api, generated, generatedOperator, settings };
  } catch (error) {
    await local.close();
    const problem = listenFailure(error, settings.port, "the API", "PORT");
    throw problem ? new SettingError([problem]) : error;
  }
});
const { api, generated, generatedOperator, settings } = local;

console.log(`licence desk API listening on ${api.url}`);
console.log(`  register: ${local.registerLine}`);
console.log(`  vendor:   ${local.vendorLine}`);
console.log(
  `  clock:    ${local.now ? `pinned to ${local.now.toISOString()} (NOW)` : "real time (set NOW=2021-05-01 to pin it)"}`,
);
console.log(
  generated
    ? `  auth:     Authorization: Bearer ${generated}   (generated for this run; set API_TOKEN to choose one)`
    : "  auth:     Authorization: Bearer $API_TOKEN",
);
// The functions' environment, as startLocalApi set it.
const operators = readServiceConfig(process.env).OPERATOR_CLIENTS;
const operatorRole = operators.includes("operator")
  ? 'client "operator": GET /outcomes, POST /outcomes/{key}'
  : `client "operator", not an operator: OPERATOR_CLIENTS is "${process.env.OPERATOR_CLIENTS}"`;
console.log(
  generatedOperator
    ? `  operator: Authorization: Bearer ${generatedOperator}   (${operatorRole}; generated for this run; set OPERATOR_TOKEN to choose one)`
    : `  operator: Authorization: Bearer $OPERATOR_TOKEN   (${operatorRole})`,
);
console.log(
  `  alerts:   ${local.env.OUTBOX_FILE} (npm run watcher -- --date YYYY-MM-DD runs a night against this register)`,
);
const settleSeconds = idempotencySettings(readServiceConfig(process.env)).settleMs / 1000;
console.log(
  `  reconcile: every ${settings.reconcileEverySeconds} s, unknown money outcomes after ${settleSeconds} s (${process.env.TEST_ONLY_RECONCILE_AFTER_SECONDS === undefined ? "RECONCILE_AFTER_SECONDS" : "TEST_ONLY_RECONCILE_AFTER_SECONDS"})`,
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
  await local.close();
  process.exit(0);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
