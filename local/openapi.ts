import { openApiDocument } from "../functions/lib/openapi.ts";

/** `npm run openapi`: the OpenAPI document, generated from the route table and schemas. */
process.stdout.write(`${JSON.stringify(openApiDocument(), null, 2)}\n`);
