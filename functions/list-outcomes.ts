import { OutcomesQuery } from "../shared/api/requests.ts";
import { openOutcomes } from "../shared/domain/licences/operator.ts";
import { config } from "./lib/config.ts";
import { api, ok } from "./lib/http.ts";
import { register } from "./lib/register.ts";

/**
 * The open money calls, for an operator (a client named in OPERATOR_CLIENTS; the domain checks). Reads
 * the register only: this bundle builds no vendor client.
 */
export const handler = api(async (request) => {
  const { query } = request.inputs({ query: OutcomesQuery });
  const items = await openOutcomes({ register }, config.OPERATOR_CLIENTS, request.client, query.state);
  return ok({ items });
});
