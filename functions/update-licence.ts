import { UpdateBody } from "../shared/api/requests.ts";
import { deskFor } from "./lib/desk.ts";
import { api, ok } from "./lib/http.ts";

export const handler = api(async (request) => {
  const { id, body } = request.inputs({ id: true, body: UpdateBody });
  return ok(await deskFor(request.client, request.deadlineMs).update(id, body));
});
