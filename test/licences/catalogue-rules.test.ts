import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDynamoRegister } from "../../shared/adapters/dynamodb/register.ts";
import { ipAvailabilityQueryIn, orderBodyIn } from "../../shared/api/catalogue-checks.ts";
import { validate } from "../../shared/api/requests.ts";
import { loadCatalogue } from "../../shared/domain/catalogue/catalogue.ts";
import { licenceDesk } from "../../shared/domain/licences/desk.ts";
import { ValidationError } from "../../shared/domain/licences/errors.ts";
import type { OrderInput } from "../../shared/domain/licences/inputs.ts";
import { dynamoClient, freshTable } from "../support/dynamodb.ts";
import { type VendorSandbox, vendorSandbox } from "../support/vendor.ts";

/**
 * The catalogue's rules are checked twice: by the API's request schemas, and by the desk for its other
 * callers. Both read them from one place (`shared/domain/catalogue/rules.ts`), so a request the desk refuses
 * is refused in the API's words, field for field, and nothing reaches the vendor.
 */
const shipped = loadCatalogue();
/** Narrower than the request's own shape (periods 1 and 12, nodes 1 to 64), so the catalogue decides. */
const catalogue = loadCatalogue(
  JSON.stringify({
    currency: shipped.currency,
    products: shipped.products.map((p) =>
      p.nodes ? { ...p, nodes: { ...p.nodes, min: 2, max: 8 } } : { ...p, periods: [12] },
    ),
  }),
);
let vendor: VendorSandbox;
let dynamo: DynamoDBClient;
let desk: ReturnType<typeof licenceDesk>;

beforeAll(async () => {
  vendor = await vendorSandbox();
  dynamo = dynamoClient(inject("dynamodbEndpoint"));
  desk = licenceDesk(
    {
      billing: vendor.client(),
      register: createDynamoRegister({ client: dynamo, tableName: await freshTable(dynamo, "rules") }),
      catalogue,
      idempotency: { ttlSeconds: 86_400, lockMs: 120_000, settleMs: 60_000 },
    },
    { client: "reseller", now: new Date("2021-05-20T10:00:00Z") },
  );
});
afterAll(async () => {
  dynamo.destroy();
  await vendor.close();
});

/** What the API's schema says of it: its fields, or nothing when it passes. */
function schemaSays(schema: Parameters<typeof validate>[0], input: unknown, root: "body" | "query") {
  const result = validate(schema, input, root);
  return result.ok ? undefined : result.fields;
}

/** What the desk says of it: the fields of its ValidationError. */
async function deskSays(call: () => Promise<unknown>) {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return (error as ValidationError).fields;
}

const order = { ip: "82.156.40.1", name: "web", autoRenew: null };

describe("the desk refuses what the catalogue does not allow in the API's words", () => {
  it.each([
    ["an unknown product", { ...order, product: "ispmanager7-pro", period: 1 }],
    ["a period the product is not sold for", { ...order, product: "ispmanager5-lite", period: 1 }],
    ["nodes for a product without them", { ...order, product: "ispmanager5-lite", period: 12, nodes: 2 }],
    ["nodes above the product's range", { ...order, product: "ispmanager5-business", period: 1, nodes: 9 }],
    ["nodes below the product's range", { ...order, product: "ispmanager5-business", period: 12, nodes: 1 }],
  ])("an order: %s", async (_, body) => {
    const api = schemaSays(orderBodyIn(catalogue), body, "body");
    expect(api).toBeDefined();
    expect(
      await deskSays(() => desk.order(body as OrderInput, `rules-${body.product}-${body.period}`)),
    ).toEqual(api);
  });

  it.each([
    ["an unknown product", { ip: "82.156.40.2", product: "ispmanager7-pro", period: 1 }],
    ["a period the product is not sold for", { ip: "82.156.40.2", product: "ispmanager5-lite", period: 1 }],
  ])("an IP availability query: %s", async (_, query) => {
    const api = schemaSays(
      ipAvailabilityQueryIn(catalogue),
      { ...query, period: String(query.period) },
      "query",
    );
    expect(api).toBeDefined();
    expect(await deskSays(() => desk.checkIp(query as never))).toEqual(api);
  });

  it("sends nothing to the vendor for any of them", () => {
    for (const func of ["soft.order.param", "soft.checkip"]) expect(vendor.calls(func)).toBe(0);
  });
});
