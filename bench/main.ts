import { cpus } from "node:os";
import { benchApi } from "./api.ts";
import { benchBundles } from "./bundles.ts";
import { benchClient } from "./client.ts";
import { benchWatcher, type WatcherProfile } from "./watcher.ts";

/**
 * `npm run bench`: every benchmark, each beside its floor measured in the same run.
 * `npm run bench -- client watcher`: only those parts, in that order, to repeat one while working on it.
 * `BENCH_WATCHER_LICENCES=10000,100000 npm run bench -- watcher`: the watcher over each fleet size, and how
 * its figures grow (10,000 alone by default). `--profile` (or `--profile=all`): the watcher's first night
 * run once more under the CPU profiler.
 */
const args = process.argv.slice(2);
const FLAGS: Record<string, WatcherProfile> = { "--profile": "mandatory", "--profile=all": "all" };
const flags = args.filter((arg) => arg.startsWith("--"));
const profile = flags.map((flag) => FLAGS[flag]).find((p) => p !== undefined);

const parts = {
  client: benchClient,
  api: benchApi,
  bundles: benchBundles,
  watcher: () => benchWatcher({ ...(profile && { profile }) }),
};
type Part = keyof typeof parts;

const asked = args.filter((arg) => !arg.startsWith("--"));
const unknown = [...asked.filter((name) => !(name in parts)), ...flags.filter((flag) => !(flag in FLAGS))];
if (unknown.length > 0) {
  console.error(
    `unknown bench part(s) or option(s): ${unknown.join(", ")}; known: ${Object.keys(parts).join(", ")}, ${Object.keys(FLAGS).join(", ")}`,
  );
  process.exit(2);
}
console.log(`node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "unknown cpu"}`);
for (const name of (asked.length > 0 ? asked : Object.keys(parts)) as Part[]) await parts[name]();
process.exit(0);
