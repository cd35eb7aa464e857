import { deskFor } from "./lib/desk.ts";
import { api, ok } from "./lib/http.ts";

export const handler = api(async (request) => {
  const { id } = request.inputs({ id: true });
  return ok(await deskFor(request.client, request.deadlineMs).suspend(id));
});
