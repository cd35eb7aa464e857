import { afterAll, beforeAll, expect, it } from "vitest";
import { type ApiHarness, apiHarness, freshIp } from "../support/api.ts";
import { liteOrder } from "../support/fixtures.ts";
import { findSecret, VENDOR_PASSWORD } from "../support/secrets.ts";

/** The vendor refuses our credentials (a rotated password not yet in SSM, say). */
let h: ApiHarness;
beforeAll(async () => {
  h = await apiHarness({
    now: "2021-05-01",
    env: { BILLMGR_CREDENTIALS: `reseller:${VENDOR_PASSWORD}-stale` },
  });
});
afterAll(() => h.close());

it("502 upstream_auth, and neither password appears in the answer", async () => {
  const answer = await h.call("POST", "/licenses", {
    body: liteOrder({ name: "n" }),
    key: "auth",
  });
  expect(answer.status).toBe(502);
  expect(answer.body.error).toMatchObject({
    code: "upstream_auth",
    message: "the vendor refused our credentials",
  });
  expect(findSecret(answer.text)).toEqual([]);
  expect(answer.text).not.toContain("-stale");
  const check = await h.call("GET", `/ip-availability?ip=${freshIp()}&product=ispmanager5-lite&period=1`);
  expect(check).toMatchObject({ status: 502, body: { error: { code: "upstream_auth" } } });
});
