import { RenewBody } from "../shared/api/requests.ts";
import { deskFor } from "./lib/desk.ts";
import { api } from "./lib/http.ts";

export const handler = api(async (request) => {
  const { id, body, idempotencyKey } = request.inputs({ id: true, body: RenewBody, idempotencyKey: true });
  const result = await deskFor(request.client, request.deadlineMs).renew(id, body, idempotencyKey);
  return {
    statusCode: result.statusCode,
    body: result.body,
    headers: { "idempotent-replayed": String(result.replayed) },
  };
});
