import { SettleBody } from "../shared/api/requests.ts";
import { operatorDeskFor } from "./lib/desk.ts";
import { api, ok } from "./lib/http.ts";

/** An operator's verdict on one open money call: only a client named in OPERATOR_CLIENTS (the domain checks). */
export const handler = api(async (request) => {
  const { key, body } = request.inputs({ key: true, body: SettleBody });
  return ok(await operatorDeskFor(request.client, request.deadlineMs).settle({ ...body, key }));
});
