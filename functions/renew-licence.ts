import { RenewBody } from "../shared/api/requests.ts";
import { deskFor } from "./lib/desk.ts";
import { api } from "./lib/http.ts";

export const handler = api(async (request) => {
  const id = request.id();
  const body = request.body(RenewBody);
  const key = request.idempotencyKey();
  const result = await deskFor(request.client, request.deadlineMs).renew(id, body, key);
  return {
    statusCode: result.statusCode,
    body: result.body,
    headers: { "idempotent-replayed": String(result.replayed) },
  };
});
