import { deskFor } from "./lib/desk.ts";
import { MONEY_SUCCESS, moneyAnswerReply } from "./lib/errors.ts";
import { api } from "./lib/http.ts";
import { SuccessorRequest } from "./lib/schemas.ts";

export const handler = api(async (request) => {
  const { id, body, idempotencyKey } = request.inputs({
    id: true,
    body: SuccessorRequest,
    idempotencyKey: true,
  });
  const result = await deskFor(request.client, request.deadlineMs).successor(id, body, idempotencyKey);
  return {
    ...moneyAnswerReply(result, MONEY_SUCCESS.successor),
    headers: { "idempotent-replayed": String(result.replayed) },
  };
});
