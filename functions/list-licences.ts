import { ListQuery } from "../shared/api/requests.ts";
import { listLicences } from "../shared/domain/licences/queries.ts";
import { api, ok } from "./lib/http.ts";
import { register } from "./lib/register.ts";

/** Reads the register only: this bundle carries neither the vendor client nor its XML parser. */
export const handler = api(async (request) => {
  const { query } = request.inputs({ query: ListQuery });
  const page = await listLicences(register.licences, query);
  return ok({ items: page.items, cursor: page.cursor ?? null });
});
