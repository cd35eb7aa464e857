import { deskFor } from "./lib/desk.ts";
import { MONEY_SUCCESS, moneyAnswerReply } from "./lib/errors.ts";
import { api } from "./lib/http.ts";
import { OrderRequest } from "./lib/schemas.ts";

export const handler = api(async (request) => {
  const { body, idempotencyKey } = request.inputs({ body: OrderRequest, idempotencyKey: true });
  const result = await deskFor(request.client, request.deadlineMs).order(body, idempotencyKey);
  return {
    ...moneyAnswerReply(result, MONEY_SUCCESS.order),
    headers: { "idempotent-replayed": String(result.replayed) },
  };
});
