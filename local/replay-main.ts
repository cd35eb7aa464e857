import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_CREDENTIALS, startSandbox } from "../sandbox/server.ts";
import { isIsoDate } from "../shared/domain/dates.ts";
import { months } from "../shared/domain/wording.ts";
import { LOCAL_AWS_ENV } from "./aws-env.ts";
import { startDynalite } from "./dynalite.ts";
import { fleet, OPENING_BALANCE_MINOR, vendorEvents } from "./fleet.ts";
import { type ReplayNight, replay } from "./replay.ts";

/**
 * `npm run replay -- --from 2021-01-01 --to 2021-12-31`: the demo fleet through every night of the
 * range, against an in-memory register and sandbox (nothing under DATA_DIR is touched but the outbox).
 */
const { values } = parseArgs({ options: { from: { type: "string" }, to: { type: "string" } } });
const from = values.from ?? "2021-01-01";
const to = values.to ?? "2021-12-31";
if (!isIsoDate(from) || !isIsoDate(to) || from > to) {
  console.error("usage: npm run replay -- --from YYYY-MM-DD --to YYYY-MM-DD");
  process.exit(2);
}

const dataDir = resolve(process.env.DATA_DIR ?? ".local");
mkdirSync(dataDir, { recursive: true });
const outbox = resolve(dataDir, "replay-outbox.jsonl");
rmSync(outbox, { force: true });
const dynamo = await startDynalite();
const sandbox = await startSandbox({ credentials: DEFAULT_CREDENTIALS, now: new Date(`${from}T00:00:00Z`) });
const money = (minor: number) => `${(minor / 100).toFixed(2)} EUR`;

console.log(
  `replay ${from} .. ${to}: ${fleet.length} licences, opening balance ${money(OPENING_BALANCE_MINOR)}`,
);
console.log(
  "nights with something to say (the nightly summary e-mail goes out every night and is not listed):\n",
);
const kinds = new Map<string, number>();
let renewals = 0;
let failures = 0;
const print = (n: ReplayNight) => {
  const said = n.alerts.filter((a) => a.kind !== "summary");
  for (const a of said) kinds.set(a.kind, (kinds.get(a.kind) ?? 0) + 1);
  renewals += n.result.renewed.length;
  failures += n.result.failed.length;
  if (
    n.events.length === 0 &&
    said.length === 0 &&
    n.result.renewed.length === 0 &&
    n.result.failed.length === 0
  )
    return;
  console.log(`${n.night}  balance ${money(n.balanceMinor)}`);
  for (const e of n.events) console.log(`    vendor/reseller: ${e}`);
  for (const r of n.result.renewed)
    console.log(`    RENEWED  ${r.name}: ${r.from} -> ${r.to} (${months(r.period)}, ${r.reason})`);
  for (const f of n.result.failed) console.log(`    FAILED   ${f.name}: ${f.reason}`);
  for (const a of said) console.log(`    alert    [${a.severity}] ${a.subject}`);
};

try {
  const nights = await replay({
    from,
    to,
    sandbox,
    env: {
      ...LOCAL_AWS_ENV,
      TABLE_NAME: "replay",
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      BILLMGR_URL: sandbox.url,
      BILLMGR_CREDENTIALS: DEFAULT_CREDENTIALS,
      OUTBOX_FILE: outbox,
    },
    onNight: print,
  });
  console.log(`\n${nights.length} nights: ${renewals} renewals, ${failures} failed renewals`);
  console.log(
    `alerts: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ")}, plus ${nights.length} nightly summaries`,
  );
  const topUps = vendorEvents.filter((e) => e.topUpMinor && e.on >= from && e.on <= to);
  const charges = sandbox.state.charges();
  const charged = charges.reduce((sum, c) => sum + c.amountMinor, 0);
  console.log(
    [
      `balance: opened at ${money(OPENING_BALANCE_MINOR)}`,
      ...topUps.map((e) => `topped up ${money(e.topUpMinor ?? 0)} on ${e.on}`),
      `charged ${money(charged)} for ${charges.length} renewal${charges.length === 1 ? "" : "s"}`,
      `now ${money(sandbox.state.balanceMinor)}`,
    ].join("; "),
  );
  console.log("\nthe fleet at the end (vendor's view):");
  for (const l of sandbox.state.list()) {
    const status = { "1": "ordered", "2": "active", "3": "suspended", "4": "deleted", "5": "processing" }[
      l.status
    ];
    console.log(`  ${l.licname.padEnd(20)} ${status?.padEnd(10)} expires ${l.expiredate}`);
  }
  console.log(`\nevery alert, subject and body, is in ${outbox}`);
} finally {
  await sandbox.close();
  await dynamo.close();
}
process.exit(0);
