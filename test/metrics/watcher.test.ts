import { join } from "node:path";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, describe, expect, inject, it, vi } from "vitest";
import type { WatcherResult } from "../../functions/watcher.ts";
import { type FleetLicence, seedLicence } from "../../local/fleet.ts";
import { createDynamoRegister } from "../../shared/adapters/dynamodb/register.ts";
import { dynamoClient, freshTable } from "../support/dynamodb.ts";
import { handlerEnv } from "../support/fixtures.ts";
import { type VendorSandbox, vendorSandbox } from "../support/vendor.ts";
import { fleetLicence, tempDir } from "../support/watcher.ts";
import { type EmfLine, emfDuring, seriesOf, sum, valuesOf } from "./support.ts";

/**
 * What one night of functions/watcher.ts reports to CloudWatch, read from its EMF lines: the night's
 * counts, the register's levels, the alerts sent and undelivered, and its vendor calls and renewals.
 */
const SERVICE = "desk-night-test";
const sns = mockClient(SNSClient);
const TOPIC = "arn:aws:sns:eu-central-1:123456789012:licence-desk-alerts";

/**
 * On 2021-05-17: one renewed; two expiring within 7 days, two more within 30, one of which the watcher
 * renews on 2021-06-07 (the balance forecast, read after tonight's charge, covers it).
 */
const FLEET: FleetLicence[] = [
  fleetLicence({ name: "renews", ip: "82.156.45.1", expiredate: "2021-05-20", autoRenew: 1 }),
  fleetLicence({ name: "in-a-week", ip: "82.156.45.2", expiredate: "2021-05-24" }),
  fleetLicence({ name: "tomorrow", ip: "82.156.45.3", expiredate: "2021-05-18" }),
  fleetLicence({ name: "in-a-fortnight", ip: "82.156.45.4", expiredate: "2021-06-01" }),
  fleetLicence({ name: "renews-later", ip: "82.156.45.5", expiredate: "2021-06-10", autoRenew: 12 }),
];

const dynamo = dynamoClient(inject("dynamodbEndpoint"));
const out = tempDir("desk-night-metrics-");
const vendors: VendorSandbox[] = [];
afterAll(async () => {
  for (const v of vendors) await v.close();
  dynamo.destroy();
  out.remove();
});
afterEach(() => {
  sns.reset();
  vi.unstubAllEnvs();
  vi.resetModules();
});

/** The fleet at a fresh vendor and register, one night run by the handler; its EMF lines and result. */
async function night(notify: Record<string, string>) {
  const vendor = await vendorSandbox({ now: new Date("2021-05-17T02:00:00Z") });
  vendors.push(vendor);
  const table = await freshTable(dynamo, "night-metrics");
  const register = createDynamoRegister({ client: dynamo, tableName: table });
  for (const licence of FLEET) await seedLicence(vendor.sandbox, register, licence);
  const env: Record<string, string> = {
    ...handlerEnv({ vendorUrl: vendor.sandbox.url, table }),
    POWERTOOLS_METRICS_DISABLED: "false",
    POWERTOOLS_SERVICE_NAME: SERVICE,
    ...notify,
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  vi.resetModules();
  const { handler, ranNight } = await import("../../functions/watcher.ts");
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  let result: WatcherResult | undefined;
  try {
    const lines = await emfDuring(async () => {
      result = ranNight(await handler({ scheduledTime: "2021-05-17T02:00:00Z" }));
    });
    return { lines, result: result as WatcherResult };
  } finally {
    log.mockRestore();
  }
}

const figure = (lines: EmfLine[], name: string) => valuesOf(lines, name, { service: SERVICE });

describe("a watcher night", () => {
  it("reports what it renewed and failed, the alerts it sent, the summary, and what expires soon", async () => {
    const { lines, result } = await night({ OUTBOX_FILE: join(out.dir, "outbox.jsonl") });
    expect(result.renewed).toHaveLength(1);
    expect(figure(lines, "NightRenewed")).toEqual([1]);
    expect(figure(lines, "NightFailed")).toEqual([0]);
    // The reconciler's pass before the night sends its own (none here), the night its alerts.
    expect(sum(figure(lines, "AlertsSent"))).toBe(result.alertsSent);
    expect(result.alertsSent).toBeGreaterThan(1);
    expect(sum(figure(lines, "AlertsUndelivered"))).toBe(0);
    expect(figure(lines, "SummariesSent")).toEqual([1]);
    expect(figure(lines, "ExpiringWithin7Days")).toEqual([2]);
    expect(figure(lines, "ExpiringWithin30Days")).toEqual([4]);
    expect(figure(lines, "UnknownOutcomesOverdue")).toEqual([0]);
    // "renews" was renewed tonight to 2021-12-31, the cap: nothing can renew it again.
    expect(figure(lines, "PastVendorCutoff")).toEqual([1]);
    expect(result.forecast?.status).toBe("covered");
    expect(figure(lines, "Balance")).toEqual([(result.forecast?.balanceMinor ?? Number.NaN) / 100]);
    expect(figure(lines, "ForecastShortfall")).toEqual([0]);

    expect(seriesOf(lines)).toEqual(
      expect.arrayContaining([
        "MoneyOutcome{operation=renew,outcome=applied}",
        "VendorCall{func=service.prolong,result=ok}",
        "VendorCall{func=soft,result=ok}",
      ]),
    );
    const renewals = lines.find((l) => l.dimensions.operation === "renew");
    expect(renewals?.metrics.MoneyOutcome?.values).toEqual([1]);
    // Once, at the end of the invocation: one line per set of dimension values.
    const sets = lines.map((l) => JSON.stringify(l.dimensions));
    expect(new Set(sets).size).toBe(sets.length);
  });

  it("counts as undelivered every alert the topic refused, and no summary sent", async () => {
    sns.on(PublishCommand).rejects(new Error("KMS key disabled"));
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const { lines, result } = await night({ ALERT_TOPIC_ARN: TOPIC });
      expect(result.alertsSent).toBe(0);
      expect(result.undelivered).toBeGreaterThan(0);
      expect(sum(figure(lines, "AlertsUndelivered"))).toBe(result.undelivered);
      expect(sum(figure(lines, "AlertsSent"))).toBe(0);
      expect(figure(lines, "SummariesSent")).toEqual([0]);
      expect(figure(lines, "NightRenewed")).toEqual([1]);
    } finally {
      error.mockRestore();
    }
  });
});
