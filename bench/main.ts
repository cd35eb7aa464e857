import { cpus } from "node:os";
import { benchApi } from "./api.ts";
import { benchBundles } from "./bundles.ts";
import { benchClient } from "./client.ts";
import { benchWatcher } from "./watcher.ts";

/** `npm run bench`: every benchmark, each beside its floor measured in the same run. */
console.log(`node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "unknown cpu"}`);
await benchClient();
await benchApi();
await benchBundles();
await benchWatcher();
process.exit(0);
