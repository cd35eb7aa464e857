import { readSandboxConfig } from "./config.ts";
import { listenFailure } from "./ports.ts";
import { formatMinor } from "./pricing.ts";
import { startSandbox } from "./server.ts";

const result = readSandboxConfig(process.env);
if (!result.ok) {
  for (const error of result.errors) console.error(`sandbox: ${error}`);
  process.exit(2);
}
const { config } = result;

const sandbox = await startSandbox({
  port: config.port,
  host: config.host,
  credentials: config.credentials,
  ...(config.now ? { now: config.now } : {}),
  ...(config.balanceMinor === undefined ? {} : { balanceMinor: config.balanceMinor }),
}).catch((error: unknown) => {
  const problem = listenFailure(error, config.port, "the vendor sandbox", "SANDBOX_PORT");
  if (!problem) throw error;
  console.error(`sandbox: ${problem}`);
  process.exit(2);
});

console.log(`vendor sandbox (billmgr) listening on ${sandbox.url}`);
console.log(
  `  user:     ${sandbox.user} (password from SANDBOX_CREDENTIALS; its default is in sandbox/README.md)`,
);
console.log(
  `  clock:    ${sandbox.state.now().toISOString()}${config.now ? " (from NOW, running)" : " (real time)"}`,
);
console.log(`  balance:  ${formatMinor(sandbox.state.balanceMinor)} ${sandbox.state.currency}`);
console.log(
  `  control:  ${sandbox.controlUrl}/state (GET), /clock, /faults, /calls, /licences, /balance, /quirks`,
);

let stopping = false;
function stop(signal: string): void {
  if (stopping) return;
  stopping = true;
  console.log(`sandbox: ${signal}, shutting down`);
  void sandbox.close().then(() => process.exit(0));
}
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
