import { generateToken } from "../shared/auth/tokens.ts";
import { localEnvironment } from "./environment.ts";
import { startLocalApi } from "./server.ts";

/**
 * `npm start`: the whole API on 127.0.0.1 with no AWS account and no network: dynalite kept
 * under DATA_DIR, the vendor sandbox (unless BILLMGR_URL names a vendor), and the handlers.
 */
const local = await localEnvironment({ joinRunning: false });
const generated = process.env.API_TOKEN ? undefined : generateToken();
const token = process.env.API_TOKEN ?? (generated as string);
const api = await startLocalApi({
  port: Number(process.env.PORT ?? 3000),
  env: { ...local.env, API_TOKEN: token, ...(process.env.NOW ? { NOW: process.env.NOW } : {}) },
  // Unknown money outcomes are settled in the background, as the stack's 15-minute schedule does.
  reconcileEveryMs: Number(process.env.RECONCILE_EVERY_SECONDS ?? 60) * 1000,
});

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
console.log(
  `  alerts:   ${local.env.OUTBOX_FILE} (npm run watcher -- --date YYYY-MM-DD runs a night against this register)`,
);
console.log(
  `  reconcile: every ${process.env.RECONCILE_EVERY_SECONDS ?? 60} s, unknown money outcomes after RECONCILE_AFTER_SECONDS (${process.env.RECONCILE_AFTER_SECONDS ?? 900} s)`,
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
