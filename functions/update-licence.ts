import { UpdateBody } from "../shared/api/requests.ts";
import { deskFor } from "./lib/desk.ts";
import { api, ok } from "./lib/http.ts";

export const handler = api(async (request) => {
  const id = request.id();
  return ok(await deskFor(request.client, request.deadlineMs).update(id, request.body(UpdateBody)));
});
