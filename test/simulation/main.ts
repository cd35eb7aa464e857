import { parseArgs } from "node:util";
import { type DynamoDbLocal, startDynamoDbLocal } from "../setup/dynamodb-local.ts";
import { type CampaignResult, describeFailure, runCampaign } from "./campaign.ts";
import { MUTANTS, type Mutant } from "./world.ts";

/**
 * `npm run simulate -- --runs N --seed S`: a long campaign of the money simulation, outside vitest.
 * Starts DynamoDB Local (or uses TEST_DYNAMODB_ENDPOINT), runs N random sequences, prints the seed, and
 * for a failure the shrunk counterexample and how to replay it; exits 1 on failure.
 *
 * Options: --runs N (default 100), --seed S, --path P and --replay-path R (replay one counterexample, as
 * printed with it), --max-commands M
 * (default 14), --no-nights (API, reconciler and kills only), --panel (or SIM_PANEL=1: the world beside
 * the desk too: the reseller in the vendor's panel, a second key or client ordering the same IP, a
 * reconciler pass racing a refused call), --no-shrink, --verbose (the product's logs),
 * --trace (each run's timeline), --mutant no-settle-window|forget-unknown (put a known bug back, to see
 * the simulation find it; also retire-unchecked, plan-early). SIM_SPARE=store.method,... keeps processes from dying at those calls, to look
 * past a known bug (e.g. SIM_SPARE=idempotency.freeLicence).
 */
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "100" },
    seed: { type: "string" },
    path: { type: "string" },
    "replay-path": { type: "string" },
    "max-commands": { type: "string", default: "14" },
    "no-nights": { type: "boolean", default: false },
    panel: { type: "boolean", default: process.env.SIM_PANEL === "1" },
    "no-shrink": { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
    trace: { type: "boolean", default: false },
    mutant: { type: "string" },
  },
});

const number = (name: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    console.error(`--${name} must be a whole number, got ${text}`);
    process.exit(2);
  }
  return value;
};

const out = process.stdout.write.bind(process.stdout);
const say = (line: string) => out(`${line}\n`);

// The product logs every retried write and failed call as JSON; a campaign provokes thousands.
if (!values.verbose) {
  console.error = () => {};
  console.log = () => {};
  console.warn = () => {};
}

let local: DynamoDbLocal | undefined;
let result: CampaignResult | undefined;
try {
  let endpoint = process.env.TEST_DYNAMODB_ENDPOINT;
  if (!endpoint) {
    local = await startDynamoDbLocal();
    endpoint = local.endpoint;
  }
  const seed = number("seed", values.seed);
  if (values.mutant !== undefined && !(MUTANTS as readonly string[]).includes(values.mutant)) {
    say(`--mutant must be one of ${MUTANTS.join(", ")}`);
    process.exit(2);
  }
  say(
    `simulate: ${values.runs} runs, seed ${seed ?? "(random)"}${values.panel ? ", with the panel, second keys and reconciler races" : ""}, DynamoDB ${endpoint}`,
  );
  result = await runCampaign({
    endpoint,
    runs: number("runs", values.runs) ?? 100,
    seed,
    path: values.path,
    replayPath: values["replay-path"],
    maxCommands: number("max-commands", values["max-commands"]) ?? 14,
    nights: !values["no-nights"],
    panel: values.panel,
    shrink: !values["no-shrink"],
    progress: say,
    trace: values.trace,
    mutant: values.mutant as Mutant | undefined,
  });
  say(`seed ${result.seed}: ${result.runs} runs in ${(result.ms / 1000).toFixed(1)} s`);
  say(`stats: ${JSON.stringify(result.stats)}`);
  if (result.failure) say(`\n${describeFailure(result)}`);
  else say("every invariant held");
} finally {
  await local?.stop();
}
process.exit(result?.failure ? 1 : 0);
