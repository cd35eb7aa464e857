import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ipAvailabilityQueryIn, orderBodyIn } from "../../shared/api/catalogue-checks.ts";
import {
  GetQuery,
  IdempotencyKey,
  LicenceId,
  ListQuery,
  RenewBody,
  UpdateBody,
  validate,
} from "../../shared/api/requests.ts";
import { loadCatalogue } from "../../shared/domain/catalogue/catalogue.ts";

/**
 * What a client reads when a request is refused: every bad field named, each in plain words, never the
 * schema library's own text ("Invalid type: Expected string but received 5").
 */

const catalogue = loadCatalogue();
const OrderRequest = orderBodyIn(catalogue);
const IpRequest = ipAvailabilityQueryIn(catalogue);

/** The schema library's wording: "Invalid type: Expected ... but received ...", "Invalid length: ...". */
const LIBRARY_WORDS = /invalid (type|key|length|value|format)|expected|received/i;

const refused = (schema: Parameters<typeof validate>[0], input: unknown, root: "body" | "query" = "body") => {
  const result = validate(schema, input, root);
  if (result.ok) throw new Error(`accepted: ${JSON.stringify(input)}`);
  return result.fields;
};

describe("a refused request names every bad field at once", () => {
  it("an unknown product alongside a bad IP, a bad name, a missing period and a stray field", () => {
    expect(
      refused(OrderRequest, { ip: "999.1.1.1", name: "a\nb", product: "ispmanager7-pro", colour: "red" }),
    ).toEqual({
      ip: "must be an IPv4 or IPv6 address",
      name: "must not contain control characters",
      period: "is required",
      colour: "is not a known field",
      product:
        "is not in the catalogue (ispmanager5-lite, ispmanager5-business, ispmanager6-lite, ispmanager6-pro, ispmanager6-host, ispmanager6-business)",
    });
  });

  it("the catalogue's rules for a known product: its periods and its cluster nodes, with other faults", () => {
    expect(
      refused(OrderRequest, { ip: "1.2.3", name: "ok", product: "ispmanager5-lite", period: 1, nodes: 2 }),
    ).toEqual({
      ip: "must be an IPv4 or IPv6 address",
      nodes: "must not be sent: ispmanager5-lite has no cluster nodes",
    });
    expect(
      refused(OrderRequest, {
        ip: "10.0.0.1",
        name: "",
        product: "ispmanager5-business",
        period: 1,
        nodes: 65,
      }),
    ).toEqual({ name: "must not be empty", nodes: "must be at most 64" });
  });

  it("a product-specific period is judged only once the period itself is valid", () => {
    // A period the API never takes is named as such, not also blamed on the product.
    expect(
      refused(OrderRequest, { ip: "10.0.0.1", name: "x", product: "ispmanager5-lite", period: 3 }),
    ).toEqual({
      period: "must be 1 or 12",
    });
    const narrow = loadCatalogue(
      JSON.stringify({
        currency: "EUR",
        products: [{ ...catalogue.products[0], periods: [12], successor: undefined }],
      }),
    );
    expect(
      refused(orderBodyIn(narrow), { ip: "10.0.0.1", name: "x", product: "ispmanager5-lite", period: 1 }),
    ).toEqual({ period: "must be one of 12 for ispmanager5-lite" });
    expect(
      refused(ipAvailabilityQueryIn(narrow), { ip: "::", product: "ispmanager5-lite", period: "1" }, "query"),
    ).toEqual({
      ip: "must not be the unspecified address (::)",
      period: "must be one of 12 for ispmanager5-lite",
    });
  });

  it.each([
    ["period is required", RenewBody, {}, "body", { period: "is required" }],
    [
      "refresh must be true or false",
      GetQuery,
      { refresh: "yes" },
      "query",
      { refresh: "must be true or false" },
    ],
    [
      "a non-string IP",
      OrderRequest,
      { ip: 5, name: 7, product: 1, period: "1" },
      "body",
      {
        ip: "must be an IPv4 or IPv6 address",
        name: "must be text of 1 to 64 characters",
        product: "must be a product id such as ispmanager5-lite",
        period: "must be 1 or 12",
      },
    ],
    ["a body that is not an object", OrderRequest, "text", "body", { body: "must be a JSON object" }],
    [
      "an over-long cursor",
      ListQuery,
      { cursor: "x".repeat(3000) },
      "query",
      { cursor: "is not one this API issued" },
    ],
    [
      "an unknown parameter",
      IpRequest,
      { ip: "10.0.0.1", product: "x", period: "1", extra: "1" },
      "query",
      {
        extra: "is not a known field",
        product:
          "is not in the catalogue (ispmanager5-lite, ispmanager5-business, ispmanager6-lite, ispmanager6-pro, ispmanager6-host, ispmanager6-business)",
      },
    ],
    [
      "a patch changing nothing",
      UpdateBody,
      {},
      "body",
      { body: "must change at least one of name, ip, autoRenew, successor" },
    ],
  ] as const)("%s", (_, schema, input, root, fields) => {
    expect(refused(schema, input, root)).toEqual(fields);
  });

  it("whatever a client sends in any field, every message is in the API's own words", () => {
    const shapes: Array<[Parameters<typeof validate>[0], string[], "body" | "query"]> = [
      [OrderRequest, ["ip", "name", "product", "period", "nodes", "autoRenew", "other"], "body"],
      [UpdateBody, ["ip", "name", "autoRenew", "other"], "body"],
      [RenewBody, ["period", "other"], "body"],
      [ListQuery, ["status", "expiresBefore", "limit", "cursor", "other"], "query"],
      [GetQuery, ["refresh", "other"], "query"],
      [IpRequest, ["ip", "product", "period", "other"], "query"],
    ];
    const shape = fc.constantFrom(...shapes);
    fc.assert(
      fc.property(
        shape,
        fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 })),
        fc.jsonValue({ maxDepth: 2 }),
        ([schema, names, root], values, whole) => {
          const input: Record<string, unknown> = {};
          for (const [i, name] of names.entries()) {
            const value = Object.values(values)[i];
            if (value !== undefined) input[name] = value;
          }
          for (const attempt of [input, whole]) {
            const result = validate(schema, attempt, root);
            if (result.ok) continue;
            for (const [field, message] of Object.entries(result.fields)) {
              expect(message, `${field}: ${message}`).not.toMatch(LIBRARY_WORDS);
              expect(message.length, field).toBeGreaterThan(0);
            }
          }
        },
      ),
      { numRuns: 500, seed: 10 },
    );
    for (const [schema, input] of [
      [LicenceId, 12],
      [LicenceId, "12a"],
      [IdempotencyKey, ""],
      [IdempotencyKey, "a b"],
    ] as const) {
      for (const message of Object.values(refused(schema, input))) expect(message).not.toMatch(LIBRARY_WORDS);
    }
  });
});
