import { deskFor } from "./lib/desk.ts";
import { api, ok } from "./lib/http.ts";

export const handler = api(async (request) =>
  ok(await deskFor(request.client, request.deadlineMs).delete(request.id())),
);
