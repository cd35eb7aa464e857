import { deskFor } from "./lib/desk.ts";
import { MONEY_SUCCESS, moneyAnswerReply } from "./lib/errors.ts";
import { api } from "./lib/http.ts";
import { ChangeProductRequest } from "./lib/schemas.ts";

export const handler = api(async (request) => {
  const { id, body, idempotencyKey } = request.inputs({
    id: true,
    body: ChangeProductRequest,
    idempotencyKey: true,
  });
  const result = await deskFor(request.client, request.deadlineMs).changeProduct(id, body, idempotencyKey);
  return {
    ...moneyAnswerReply(result, MONEY_SUCCESS.changeProduct),
    headers: { "idempotent-replayed": String(result.replayed) },
  };
});
