import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { openApiDocument } from "../functions/lib/openapi.ts";

/**
 * `npm run openapi -- --out openapi.json`: the OpenAPI document, generated from the route table and
 * schemas. The file is written here rather than through a shell redirect, because `npm run` prints its
 * own banner on stdout, which would land in the file (`npm run -s openapi` prints the bare document).
 */
let out: string | undefined;
try {
  ({
    values: { out },
  } = parseArgs({ options: { out: { type: "string", short: "o" } }, strict: true }));
} catch (error) {
  console.error(`openapi: ${(error as Error).message}; usage: npm run openapi -- --out openapi.json`);
  process.exit(2);
}

const document = `${JSON.stringify(openApiDocument(), null, 2)}\n`;
if (out === undefined) {
  process.stdout.write(document);
} else {
  // npm runs scripts from the package's folder; a relative path means the folder npm was run from.
  const file = resolve(process.env.INIT_CWD ?? process.cwd(), out);
  writeFileSync(file, document);
  console.error(`openapi: wrote ${file}`);
}
