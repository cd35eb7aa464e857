import { randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDynamoRegister } from "../../shared/adapters/dynamodb/register.ts";
import { OrderBody, validate } from "../../shared/api/requests.ts";
import { loadCatalogue } from "../../shared/domain/catalogue/catalogue.ts";
import { type DeskDeps, licenceDesk } from "../../shared/domain/licences/desk.ts";
import { OutcomePendingError, OutcomeUnknownError } from "../../shared/domain/licences/errors.ts";
import type { OrderInput } from "../../shared/domain/licences/inputs.ts";
import type { Register } from "../../shared/domain/ports/register.ts";
import { call } from "../sandbox/support.ts";
import { dynamoClient, freshTable } from "../support/dynamodb.ts";
import { type VendorSandbox, vendorSandbox } from "../support/vendor.ts";

/**
 * An order whose answer is lost, settled on evidence after the settle window, with a vendor that writes
 * every non-ASCII character as a numeric character reference: the name read back from the vendor's list
 * must be the name ordered, or a charged order reads as not placed. The desk's clock is injected, so the
 * settle window passes without a sleep.
 */
const NOW = new Date("2021-05-01T09:00:00Z");
const SETTLE_MS = 60_000;
const LITE_MONTH = 600;

let vendor: VendorSandbox;
let dynamo: DynamoDBClient;
let register: Register;
let clock = Date.now();

beforeAll(async () => {
  vendor = await vendorSandbox({ now: NOW, quirks: { numericReferences: true } });
  dynamo = dynamoClient(inject("dynamodbEndpoint"));
  register = createDynamoRegister({ client: dynamo, tableName: await freshTable(dynamo, "order-names") });
});
afterAll(async () => {
  dynamo.destroy();
  await vendor.close();
});

function desk(env: Record<string, string> = {}) {
  const deps: DeskDeps = {
    billing: vendor.client(env),
    register,
    catalogue: loadCatalogue(),
    idempotency: { ttlSeconds: 86_400, lockMs: 120_000, settleMs: SETTLE_MS },
    nowMs: () => clock,
  };
  return licenceDesk(deps, { client: "reseller", now: NOW });
}

/** The order as the API's schema reads it: the name as the reseller typed it must pass. */
function orderBody(name: string, ip: string): OrderInput {
  const checked = validate(OrderBody, { ip, name, product: "ispmanager5-lite", period: 1 });
  if (!checked.ok) throw new Error(`refused: ${JSON.stringify(checked.fields)}`);
  return checked.value;
}

async function chargesFor(ip: string) {
  const state = await vendor.state();
  const ids = new Set(state.licences.filter((l) => l.ip === ip).map((l) => l.id));
  return state.charges.filter((c) => ids.has(c.elid));
}

/** Sends the order with its answer dropped after the vendor acted: charged, and nobody told. */
async function lostOrder(body: OrderInput, key: string, env: Record<string, string> = {}) {
  await vendor.fault("soft.order.param", "act-then-drop");
  await expect(desk(env).order(body, key)).rejects.toBeInstanceOf(OutcomeUnknownError);
  expect(await chargesFor(body.ip)).toHaveLength(1);
}

describe("an order with a lost answer, names written as numeric references by the vendor", () => {
  it.each([
    ["Cyrillic", "Тест-сервер", "82.156.41.1", "&#1058;&#x435;&#1089;&#x442;-"],
    ["emoji", "web 😀🚀", "82.156.41.2", "web &#128512;&#x1F680;"],
  ])(
    "%s: settled as placed after the settle window, charged once, its name readable",
    async (_, name, ip, wire) => {
      const body = orderBody(`  ${name} `, ip);
      expect(body.name).toBe(name);
      const key = randomUUID();
      const orders = vendor.calls("soft.order.param");
      await lostOrder(body, key);
      // The vendor writes the name as references, decimal and hex in turn: the desk must read both.
      expect((await call(vendor.sandbox, { func: "soft" })).text).toContain(`<licname>${wire}`);

      clock += SETTLE_MS - 1;
      await expect(desk().order(body, key)).rejects.toBeInstanceOf(OutcomePendingError);
      clock += 1;
      const settled = await desk().order(body, key);
      expect(settled).toMatchObject({ outcome: "applied", replayed: true, licence: { name, ip } });
      if (settled.outcome !== "applied") throw new Error("not placed");
      const id = settled.licence.id;
      expect((await register.licences.get(id))?.name).toBe(name);

      // Replayed again: the same answer, nothing sent, charged exactly once.
      expect(await desk().order(body, key)).toMatchObject({ outcome: "applied", licence: { id, name } });
      expect(vendor.calls("soft.order.param") - orders).toBe(1);
      expect((await chargesFor(ip)).map((c) => [c.func, c.elid, c.amountMinor])).toEqual([
        ["soft.order.param", id, LITE_MONTH],
      ]);
    },
  );

  it("a vendor list that cannot be proven complete keeps the outcome open instead of 'not placed'", async () => {
    // Two licences ahead of the order in the vendor's id order, two a page, and a vendor that serves its
    // first page for every p_num: the charged order is on a page the desk cannot read.
    for (const n of [1, 2])
      vendor.sandbox.state.seed({ licname: `other-${n}`, ip: `10.9.0.${n}`, pricelist: "3541" });
    const name = "Тест-2 😀";
    const body = orderBody(name, "82.156.41.3");
    const key = randomUUID();
    const paged = { BILLMGR_PAGE_SIZE: "2" };
    await lostOrder(body, key, paged);
    await vendor.quirks({ ignorePageNumber: true });

    clock += SETTLE_MS;
    const open = await desk(paged)
      .order(body, key)
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(open).toBeInstanceOf(OutcomePendingError);
    expect((open as Error).message).toMatch(
      /the vendor's licence list could not be proven complete, so whether the order was placed is not known yet: page 2 of the vendor's list repeats licence \d+ of an earlier page/,
    );
    expect((open as Error).message).toMatch(/do not use a new key/);

    // Read again when the answer says, once the vendor pages properly: placed, the one charge.
    const { retryAfterSeconds } = open as OutcomePendingError;
    expect(retryAfterSeconds).toBe(60);
    clock += retryAfterSeconds * 1000;
    await vendor.quirks({ ignorePageNumber: false });
    const settled = await desk(paged).order(body, key);
    expect(settled).toMatchObject({ outcome: "applied", licence: { name } });
    expect(await chargesFor(body.ip)).toHaveLength(1);
  });
});
