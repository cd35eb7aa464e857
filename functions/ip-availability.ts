import { IpAvailabilityQuery } from "../shared/api/requests.ts";
import { deskFor } from "./lib/desk.ts";
import { api, ok } from "./lib/http.ts";

export const handler = api(async (request) => {
  const answer = await deskFor(request.client, request.deadlineMs).checkIp(
    request.query(IpAvailabilityQuery),
  );
  return ok(answer.available ? { available: true } : { available: false, reason: answer.reason });
});
