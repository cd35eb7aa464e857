import { SettleBody } from "../shared/api/requests.ts";
import { operatorDeskFor } from "./lib/desk.ts";
import { MONEY_SUCCESS, moneyAnswerReply } from "./lib/errors.ts";
import { api, ok } from "./lib/http.ts";

/** An operator's verdict on one open money call: only a client named in OPERATOR_CLIENTS (the domain checks). */
export const handler = api(async (request) => {
  const { key, body } = request.inputs({ key: true, body: SettleBody });
  const settled = await operatorDeskFor(request.client, request.deadlineMs).settle({ ...body, key });
  const success = settled.operation === "renew" ? MONEY_SUCCESS.renew : MONEY_SUCCESS.order;
  return ok({ ...settled, answer: moneyAnswerReply(settled.answer, success) });
});
