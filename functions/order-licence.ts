import { deskFor } from "./lib/desk.ts";
import { api } from "./lib/http.ts";
import { OrderRequest } from "./lib/schemas.ts";

export const handler = api(async (request) => {
  const { body, idempotencyKey } = request.inputs({ body: OrderRequest, idempotencyKey: true });
  const result = await deskFor(request.client, request.deadlineMs).order(body, idempotencyKey);
  return {
    statusCode: result.statusCode,
    body: result.body,
    headers: { "idempotent-replayed": String(result.replayed) },
  };
});
