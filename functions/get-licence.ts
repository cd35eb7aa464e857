import { GetQuery } from "../shared/api/requests.ts";
import { deskFor } from "./lib/desk.ts";
import { api, ok } from "./lib/http.ts";

export const handler = api(async (request) => {
  const { id, query } = request.inputs({ id: true, query: GetQuery });
  return ok(await deskFor(request.client, request.deadlineMs).get(id, query.refresh));
});
