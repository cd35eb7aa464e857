import { join } from "node:path";
import { PublishCommand, type PublishCommandInput, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import type { WatcherResult } from "../../functions/watcher.ts";
import { type FleetLicence, seedInput, seedLicence } from "../../local/fleet.ts";
import { createDynamoRegister } from "../../shared/adapters/dynamodb/register.ts";
import { dynamoClient, freshTable } from "../support/dynamodb.ts";
import { handlerEnv } from "../support/fixtures.ts";
import { expectNoSecret } from "../support/secrets.ts";
import { type VendorSandbox, vendorSandbox } from "../support/vendor.ts";
import { fleetLicence, readOutbox, tempDir } from "../support/watcher.ts";

/**
 * functions/watcher.ts as Lambda runs it: deps built once from the environment at import, the night
 * taken from the event (never the wall clock), alerts to SNS (mocked) or, locally, to the outbox file.
 */
const sns = mockClient(SNSClient);
const TOPIC = "arn:aws:sns:eu-central-1:123456789012:licence-desk-alerts";
const LONG_NAME = `${"very-long-licence-name-".repeat(3)}0123456789abcdefghijk`.slice(0, 64);

/** On 2021-05-17: one licence due (renewed to the cap), two warned, and the 30-day lifecycle alerts. */
const FLEET: FleetLicence[] = [
  fleetLicence({ name: "web-1", ip: "82.156.44.1", expiredate: "2021-05-20", autoRenew: 1 }),
  fleetLicence({ name: "Tom & Jerry", ip: "2a01:4f8:c17:b8f::2", expiredate: "2021-05-24" }),
  fleetLicence({ name: LONG_NAME, ip: "82.156.44.3", expiredate: "2021-05-18" }),
];

const dynamo = dynamoClient(inject("dynamodbEndpoint"));
const out = tempDir("desk-handler-");
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

/** A fresh vendor and register with the fleet booked, and the handler imported against them. */
async function setup(notify: { outbox: string } | { topic: string }, extraEnv: Record<string, string> = {}) {
  const vendor = await vendorSandbox({ now: new Date("2021-05-17T00:00:00Z") });
  vendors.push(vendor);
  const table = await freshTable(dynamo, "handler");
  const register = createDynamoRegister({ client: dynamo, tableName: table });
  const ids: Record<string, string> = {};
  for (const licence of FLEET) ids[licence.name] = await seedLicence(vendor.sandbox, register, licence);
  const env: Record<string, string | undefined> = {
    ...handlerEnv({ vendorUrl: vendor.sandbox.url, table }),
    ALERT_TOPIC_ARN: "topic" in notify ? notify.topic : undefined,
    OUTBOX_FILE: "outbox" in notify ? notify.outbox : undefined,
    ...extraEnv,
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  vi.resetModules();
  const { handler, ranNight } = await import("../../functions/watcher.ts");
  /** The vendor's clock at the scheduled time, then the handler, quietly (it logs a line per night). */
  const invoke = async (event: unknown, vendorNow = "2021-05-17T02:00:00Z"): Promise<WatcherResult> => {
    vendor.sandbox.setNow(new Date(vendorNow));
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      return ranNight(await handler(event));
    } finally {
      log.mockRestore();
    }
  };
  return { vendor, register, ids, handler, invoke };
}

const RENEWED = [{ name: "web-1", from: "2021-05-20", to: "2021-12-31", period: 12, reason: "due" }];

describe("the event names the night", () => {
  let reference: WatcherResult;

  it('{"scheduledTime": "2021-05-17T02:00:00Z"} runs night 2021-05-17', async () => {
    const outbox = join(out.dir, "scheduled.jsonl");
    const { invoke, ids } = await setup({ outbox });
    reference = await invoke({ scheduledTime: "2021-05-17T02:00:00Z" });
    expect(reference.night).toBe("2021-05-17");
    expect(reference.renewed).toEqual([{ id: ids["web-1"], ...RENEWED[0] }]);
    expect(reference.failed).toEqual([]);
    // expiry (Tom & Jerry, 7 days), expiry (the long name, tomorrow), lifecycle (Lite: 29 days to its
    // sales and renewals closing, one mail), summary.
    const lines = readOutbox(outbox);
    expect(lines.map((l) => l.kind).sort()).toEqual(["expiry", "expiry", "lifecycle", "summary"]);
    expect(reference.alertsSent).toBe(lines.length);
    expect(new Set(lines.map((l) => l.night))).toEqual(new Set(["2021-05-17"]));
    expect(reference.sync).toMatchObject({ listed: 3, unchanged: 3 });
  });

  it.each([
    ["date", { date: "2021-05-17" }],
    ["a scheduled time with an offset, read as its UTC date", { scheduledTime: "2021-05-16T23:30:00-03:00" }],
    ["a scheduled time later in the UTC day", { scheduledTime: "2021-05-17T23:59:59.999Z" }],
  ])("%s: the same night, the same decisions", async (_label, event) => {
    const { invoke } = await setup({ outbox: join(out.dir, `${Math.random()}.jsonl`) });
    const result = await invoke(event);
    expect(result).toEqual(reference);
  });

  it("a schedule in another time zone: tonight is the scheduled time's date there", async () => {
    const { invoke } = await setup(
      { outbox: join(out.dir, "tokyo.jsonl") },
      { SCHEDULE_TIMEZONE: "Asia/Tokyo" },
    );
    // 02:00 in Tokyo on 2021-05-17 is 17:00 UTC the day before.
    const result = await invoke({ scheduledTime: "2021-05-16T17:00:00Z" }, "2021-05-16T17:00:00Z");
    expect(result.night).toBe("2021-05-17");
  });

  it.each([
    ["no event", undefined],
    ["null", null],
    ["a bare string", "2021-05-17"],
    ["an empty object", {}],
    ["an impossible date", { date: "2021-02-30" }],
    ["a date in another format", { date: "17.05.2021" }],
    ["a date with a time", { date: "2021-05-17T02:00:00Z" }],
    ["a scheduled time that is no timestamp", { scheduledTime: "tonight" }],
    ["a scheduled time as a number", { scheduledTime: 1_621_216_800_000 }],
    ["an EventBridge rule's whole event", { "detail-type": "Scheduled Event", time: "2021-05-17T02:00:00Z" }],
  ])("refuses %s with a clear error, before any vendor call", async (_label, event) => {
    const { handler, vendor } = await setup({ outbox: join(out.dir, "bad.jsonl") });
    const error = await handler(event).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /^watcher event must be \{"scheduledTime": ISO\} or \{"date": "YYYY-MM-DD"\}: \S/,
    );
    expect(vendor.sandbox.callCount()).toBe(0);
    expectNoSecret(error);
  });
});

describe("its configuration", () => {
  it("needs an alert destination: ALERT_TOPIC_ARN (SNS) or OUTBOX_FILE", async () => {
    await expect(setup({ outbox: "" }, { OUTBOX_FILE: "" })).rejects.toThrow(
      "no alert destination: set ALERT_TOPIC_ARN (SNS) or, locally, OUTBOX_FILE",
    );
  });

  it("refuses a topic that is not an SNS ARN, naming the variable", async () => {
    await expect(setup({ topic: "licence-desk-alerts" })).rejects.toThrow(
      /invalid configuration: ALERT_TOPIC_ARN: must be an SNS topic ARN/,
    );
  });
});

describe("alerts through SNS", () => {
  let published: PublishCommandInput[];
  let ids: Record<string, string>;

  beforeAll(async () => {
    sns.on(PublishCommand).resolves({ MessageId: "m-1" });
    const s = await setup({ topic: TOPIC });
    ids = s.ids;
    const result = await s.invoke({ scheduledTime: "2021-05-17T02:00:00Z" });
    published = sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(result.alertsSent).toBe(4);
  });

  it("publishes each alert to the topic with a subject SNS accepts: under 100 printable ASCII characters", () => {
    expect(published).toHaveLength(4);
    for (const input of published) {
      expect(input.TopicArn).toBe(TOPIC);
      expect(input.Subject?.length).toBeLessThan(100);
      expect(input.Subject).toMatch(/^\[licence desk\] [\x20-\x7e]+$/);
      expect(input.Message?.length).toBeGreaterThan(0);
    }
    const long = published.find((p) => p.MessageAttributes?.licenceId?.StringValue === ids[LONG_NAME]);
    // The 64-character name makes the longest title: cut, and marked as cut.
    expect(long?.Subject).toMatch(new RegExp(`^\\[licence desk\\] ${LONG_NAME.slice(0, 40)}.*\\.\\.\\.$`));
  });

  it("sets message attributes for filtering: severity, kind, licenceId", () => {
    const attributes = published.map((p) =>
      Object.fromEntries(
        Object.entries(p.MessageAttributes ?? {}).map(([k, v]) => [k, `${v.DataType}:${v.StringValue}`]),
      ),
    );
    expect(attributes).toEqual(
      expect.arrayContaining([
        {
          severity: "String:info",
          kind: "String:expiry",
          licenceId: `String:${ids["Tom & Jerry"]}`,
          night: "String:2021-05-17",
        },
        {
          severity: "String:critical",
          kind: "String:expiry",
          licenceId: `String:${ids[LONG_NAME]}`,
          night: "String:2021-05-17",
        },
        {
          severity: "String:warning",
          kind: "String:lifecycle",
          licenceId: "String:none",
          night: "String:2021-05-17",
        },
        {
          severity: "String:info",
          kind: "String:summary",
          licenceId: "String:none",
          night: "String:2021-05-17",
        },
      ]),
    );
  });

  it("writes a plain-text body naming the licence, its id, IP, product and expiry, and what to do", () => {
    const alert = published.find((p) => p.MessageAttributes?.licenceId?.StringValue === ids["Tom & Jerry"]);
    expect(alert?.Subject).toBe(
      "[licence desk] Tom & Jerry (2a01:4f8:c17:b8f::2) expires in 7 days (2021-05-24)",
    );
    const body = alert?.Message ?? "";
    expect(body).toContain(`Licence:  Tom & Jerry (id ${ids["Tom & Jerry"]})`);
    expect(body).toContain("IP:       2a01:4f8:c17:b8f::2");
    expect(body).toContain("Product:  ISPmanager 5 Lite");
    expect(body).toContain("Expires:  2021-05-24");
    expect(body).toContain("Renewal:  renews only by hand (automatic renewal is off)");
    expect(body).toContain(
      "What to do: Renew it by hand by 2021-05-24 to keep it running (renewals are taken until 2021-06-14)",
    );
    expect(body).toContain(
      `- renew licence ${ids["Tom & Jerry"]} by hand: POST /licenses/${ids["Tom & Jerry"]}/renew`,
    );
    // Plain text: no markup, no JSON.
    expect(body).not.toMatch(/<[a-z]+>|^\s*\{/m);
    expect(body).not.toContain("&amp;");
    for (const p of published) expectNoSecret(p);
  });
});

describe("an alert SNS refuses", () => {
  it("is released, counted as undelivered, and sent by the rerun; nothing else twice", async () => {
    sns.on(PublishCommand).rejectsOnce(new Error("Throttling: Rate exceeded")).resolves({ MessageId: "m-2" });
    const { invoke } = await setup({ topic: TOPIC });
    const errors = vi.spyOn(console, "error");
    const first = await invoke({ date: "2021-05-17" });
    expect(first.undelivered).toBe(1);
    expect(first.alertsSent).toBe(3);
    // Logged once, with the alert it carried and the reason, for the operators (and the alarm's metric).
    const logged = errors.mock.calls
      .map((args) => String(args[0]))
      .filter((line) => line.includes('"alert undelivered"'))
      .map(
        (line) => JSON.parse(line) as { alerts: number; entries: string[]; reason: string; title: string },
      );
    errors.mockRestore();
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ alerts: 1, reason: "Error: Throttling: Rate exceeded" });
    expect(logged[0]?.entries).toHaveLength(1);
    expect(logged[0]?.title).toMatch(/^\[licence desk\] /);
    const subjects = () =>
      sns
        .commandCalls(PublishCommand)
        .map((c) => c.args[0].input.Subject)
        .slice(1);
    const refused = sns.commandCalls(PublishCommand)[0]?.args[0].input.Subject;

    const rerun = await invoke({ date: "2021-05-17" });
    expect(rerun.alertsSent).toBe(1);
    expect(rerun.undelivered).toBe(0);
    expect(rerun.renewed).toEqual([]);
    expect(subjects()).toHaveLength(4);
    expect(new Set(subjects()).size).toBe(4);
    expect(subjects()).toContain(refused);
  });
});

describe("the continuation schedule", () => {
  it("does nothing for a night no run has begun, carries on one a run left forms to read, then does nothing again", async () => {
    const outbox = join(out.dir, "continuation.jsonl");
    const { handler, vendor, register } = await setup({ outbox });
    const newIds = Array.from(
      { length: 6 },
      (_, i) =>
        vendor.sandbox.state.seed(
          seedInput(
            fleetLicence({ name: `imported-${i}`, ip: `82.156.95.${i + 1}`, expiredate: "2021-09-01" }),
          ),
        ).id,
    );
    vendor.sandbox.setNow(new Date("2021-05-17T02:20:00Z"));
    const quiet = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      const calls = vendor.sandbox.callCount();
      // 02:20, before the nightly run: not this schedule's night to begin.
      expect(await handler({ scheduledTime: "2021-05-17T02:20:00Z", continuation: true })).toEqual({
        night: "2021-05-17",
        continuation: "nothing left",
      });
      expect(vendor.sandbox.callCount()).toBe(calls);

      // The nightly run with no time for forms (Lambda's remaining time is all reserve).
      const first = await handler(
        { scheduledTime: "2021-05-17T02:00:00Z" },
        { getRemainingTimeInMillis: () => 1_000 },
      );
      expect("continuation" in first).toBe(false);
      expect((await register.nights.read("2021-05-17")).sync.formsLeft).toBe(newIds.length);

      // The continuation reads them, sends no summary again.
      const mails = readOutbox(outbox).length;
      const carried = await handler({ scheduledTime: "2021-05-17T02:40:00Z", continuation: true });
      expect("continuation" in carried ? carried : carried.forms).toMatchObject({
        read: newIds.length,
        left: 0,
      });
      expect(readOutbox(outbox).filter((l) => l.kind === "summary")).toHaveLength(1);
      expect(readOutbox(outbox).length).toBe(mails);
      for (const id of newIds) expect((await register.licences.get(id))?.formPending).toBeUndefined();

      const after = vendor.sandbox.callCount();
      expect(await handler({ scheduledTime: "2021-05-17T03:00:00Z", continuation: true })).toEqual({
        night: "2021-05-17",
        continuation: "nothing left",
      });
      expect(vendor.sandbox.callCount()).toBe(after);
    } finally {
      quiet.mockRestore();
    }
  });
});
