import { deskFor } from "./lib/desk.ts";
import { api, ok } from "./lib/http.ts";
import { IpAvailabilityRequest } from "./lib/schemas.ts";

export const handler = api(async (request) => {
  const { query } = request.inputs({ query: IpAvailabilityRequest });
  const answer = await deskFor(request.client, request.deadlineMs).checkIp(query);
  return ok(answer.available ? { available: true } : { available: false, reason: answer.reason });
});
