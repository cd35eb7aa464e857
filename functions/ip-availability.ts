import { deskFor } from "./lib/desk.ts";
import { api, ok } from "./lib/http.ts";
import { IpAvailabilityRequest } from "./lib/schemas.ts";

export const handler = api(async (request) => {
  const answer = await deskFor(request.client, request.deadlineMs).checkIp(
    request.query(IpAvailabilityRequest),
  );
  return ok(answer.available ? { available: true } : { available: false, reason: answer.reason });
});
