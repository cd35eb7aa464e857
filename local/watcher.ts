import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ensureTable } from "../shared/adapters/dynamodb/table.ts";
import { isIsoDate } from "../shared/domain/dates.ts";
import { localEnvironment } from "./environment.ts";
import { printNight } from "./report.ts";
import { SettingError } from "./settings.ts";

/**
 * `npm run watcher -- --date YYYY-MM-DD`: one night of the watcher (the very Lambda handler) against
 * the local register, the one `npm start` uses; while it runs, it joins its engine and sandbox.
 * The vendor sandbox's clock is moved to that night, 02:00 UTC, as the schedule would run it.
 */
const { values } = parseArgs({
  options: { date: { type: "string" }, "budget-seconds": { type: "string" } },
});
const budget = values["budget-seconds"] === undefined ? undefined : Number(values["budget-seconds"]);
if (
  !values.date ||
  !isIsoDate(values.date) ||
  (budget !== undefined && !(Number.isInteger(budget) && budget > 0))
) {
  console.error("usage: npm run watcher -- --date YYYY-MM-DD [--budget-seconds N]");
  process.exit(2);
}
const night = values.date;
const externalVendor = Boolean(process.env.BILLMGR_URL);
const at = new Date(`${night}T02:00:00Z`);
// A sandbox of its own starts on the night's clock: one started on today's would expire and delete the
// book's licences before it is moved back to the night.
const local = await localEnvironment({ joinRunning: true, now: at }).catch((error: unknown) => {
  // A setting to change is told in one line each (exit code 2), as npm start tells it.
  if (!(error instanceof SettingError)) throw error;
  for (const problem of error.problems) console.error(`npm run watcher: ${problem}`);
  process.exit(2);
});
try {
  Object.assign(process.env, local.env);
  const client = new DynamoDBClient({ endpoint: local.dynamoEndpoint });
  await ensureTable(client, local.env.TABLE_NAME as string);
  client.destroy();
  if (!local.sandbox && !externalVendor) {
    await fetch(new URL("/sandbox/clock", local.env.BILLMGR_URL), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ now: at.toISOString() }),
    });
  }
  console.log(`watcher, night ${night}: register ${local.registerLine}; vendor ${local.vendorLine}`);
  const { handler, ranNight } = await import("../functions/watcher.ts");
  // As Lambda gives it: the time the invocation has left, counted from now.
  const until = budget === undefined ? undefined : Date.now() + budget * 1000;
  const context = until === undefined ? undefined : { getRemainingTimeInMillis: () => until - Date.now() };
  printNight(ranNight(await handler({ date: night }, context)));
  console.log(`alerts appended to ${local.env.OUTBOX_FILE}`);
} finally {
  await local.close();
}
process.exit(0);
