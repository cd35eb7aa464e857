import { OrderBody } from "../shared/api/requests.ts";
import { deskFor } from "./lib/desk.ts";
import { api } from "./lib/http.ts";

export const handler = api(async (request) => {
  const body = request.body(OrderBody);
  const key = request.idempotencyKey();
  const result = await deskFor(request.client, request.deadlineMs).order(body, key);
  return {
    statusCode: result.statusCode,
    body: result.body,
    headers: { "idempotent-replayed": String(result.replayed) },
  };
});
