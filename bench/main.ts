import { cpus } from "node:os";
import { benchApi } from "./api.ts";
import { benchBundles } from "./bundles.ts";
import { benchClient } from "./client.ts";
import { benchWatcher } from "./watcher.ts";

const parts = { client: benchClient, api: benchApi, bundles: benchBundles, watcher: benchWatcher };
type Part = keyof typeof parts;

/**
 * `npm run bench`: every benchmark, each beside its floor measured in the same run.
 * `npm run bench -- client watcher`: only those parts, in that order, to repeat one while working on it.
 */
const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(name in parts));
if (unknown.length > 0) {
  console.error(`unknown bench part(s): ${unknown.join(", ")}; known: ${Object.keys(parts).join(", ")}`);
  process.exit(2);
}
console.log(`node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "unknown cpu"}`);
for (const name of (asked.length > 0 ? asked : Object.keys(parts)) as Part[]) await parts[name]();
process.exit(0);
