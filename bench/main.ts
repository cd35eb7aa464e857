import { cpus } from "node:os";
import { benchClient } from "./client.ts";

/** `npm run bench`: every benchmark, each beside its floor measured in the same run. */
console.log(`node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "unknown cpu"}`);
await benchClient();
process.exit(0);
