import type { APIGatewayProxyEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, ok } from "../../functions/lib/http.ts";
import { type Answer, type ApiHarness, apiHarness, TOKEN } from "../support/api.ts";
import { liteOrder } from "../support/fixtures.ts";

/**
 * Input a fuzz campaign found crashing routes or read two ways, each case as a
 * client sends it: over HTTP through the local gateway. Every one is a 4xx naming what to fix, and
 * nothing reaches the vendor. `fuzz.test.ts` sends the same kinds at random to every route.
 */

let h: ApiHarness;
let id: string;
beforeAll(async () => {
  h = await apiHarness({ now: "2021-05-01" });
  const created = await h.call("POST", "/licenses", {
    body: liteOrder({ name: "bad-input" }),
    key: crypto.randomUUID(),
  });
  id = created.body.id;
});
afterAll(() => h.close());

/** Sends, and checks nothing reached the vendor. */
async function refusedWithoutVendor(send: () => Promise<Answer>): Promise<Answer> {
  const before = h.vendor.sandbox.calls.length;
  const answer = await send();
  expect(h.vendor.sandbox.calls.length, answer.text).toBe(before);
  return answer;
}

const fieldsOf = (answer: Answer): Record<string, string> => {
  expect(answer.status, answer.text).toBe(400);
  expect(answer.body.error.code).toBe("invalid_request");
  return answer.body.error.details.fields;
};

const order = (extra: Record<string, unknown> = {}) => liteOrder({ name: "web", ...extra });

describe("keys an object inherits are fields like any other", () => {
  it.each(["__proto__", "constructor", "toString", "hasOwnProperty", "prototype"])(
    "?%s=1 on every route with a query: 400 naming it",
    async (key) => {
      for (const path of [`/licenses/${id}`, "/licenses", "/ip-availability"]) {
        const answer = await refusedWithoutVendor(() =>
          h.call("GET", `${path}?${encodeURIComponent(key)}=1&refresh=true`),
        );
        expect(Object.hasOwn(fieldsOf(answer), key), `${path}: ${answer.text}`).toBe(true);
        expect(answer.body.error.details.fields[key]).toBe("is not a known field");
      }
    },
  );

  const bodies: Array<[string, string, "POST" | "PATCH", () => string, () => string]> = [
    [
      "__proto__",
      "an order",
      "POST",
      () => "/licenses",
      () => `{"__proto__":{"admin":true},${JSON.stringify(order()).slice(1)}`,
    ],
    [
      "constructor",
      "an order",
      "POST",
      () => "/licenses",
      () => JSON.stringify({ constructor: 1, ...order() }),
    ],
    ["__proto__", "a renewal", "POST", () => `/licenses/${id}/renew`, () => '{"__proto__":1,"period":1}'],
    [
      "constructor",
      "a renewal",
      "POST",
      () => `/licenses/${id}/renew`,
      () => '{"period":1,"constructor":{}}',
    ],
    ["__proto__", "a change", "PATCH", () => `/licenses/${id}`, () => '{"__proto__":{"name":"x"}}'],
    ["constructor", "a change", "PATCH", () => `/licenses/${id}`, () => '{"constructor":1,"name":"y"}'],
    ["__proto__", "a suspend", "POST", () => `/licenses/${id}/suspend`, () => '{"__proto__":1}'],
  ];
  it.each(bodies)("%s in %s's body: 400 naming it", async (key, _, method, path, body) => {
    const answer = await refusedWithoutVendor(() =>
      h.call(method, path(), { rawBody: body(), key: crypto.randomUUID() }),
    );
    expect(fieldsOf(answer)).toEqual({ [key]: "is not a known field" });
  });

  it("every key a route does not take is named, not only the first", async () => {
    const answer = await refusedWithoutVendor(() =>
      h.call("POST", `/licenses/${id}/renew`, {
        rawBody: '{"__proto__":1,"period":1,"constructor":2,"colour":"red"}',
        key: crypto.randomUUID(),
      }),
    );
    expect(fieldsOf(answer)).toEqual({
      // Computed: a literal `__proto__:` would set the expected object's prototype instead.
      ["__proto__"]: "is not a known field",
      constructor: "is not a known field",
      colour: "is not a known field",
    });
  });

  it("leaves every object's prototype as it was", async () => {
    await h.call("PATCH", `/licenses/${id}`, { rawBody: '{"__proto__":{"polluted":"yes"}}' });
    await h.call("GET", "/licenses?__proto__[polluted]=yes&constructor[prototype][polluted]=yes");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain("polluted");
  });
});

describe("what a route does not take is refused by name, not ignored", () => {
  it("a query parameter on a route without any", async () => {
    const answer = await refusedWithoutVendor(() => h.call("POST", `/licenses/${id}/suspend?force=1`));
    expect(fieldsOf(answer)).toEqual({ force: "is not a known field" });
  });

  it("a body field on a route without a body; no body and {} are fine", async () => {
    const answer = await refusedWithoutVendor(() =>
      h.call("POST", `/licenses/${id}/key`, { body: { key: "mine" } }),
    );
    expect(fieldsOf(answer)).toEqual({ key: "is not a known field" });
    expect((await h.call("POST", `/licenses/${id}/suspend`, { body: {} })).status).toBe(200);
    expect((await h.call("POST", `/licenses/${id}/resume`)).status).toBe(200);
  });
});

describe("a parameter or header that must come once", () => {
  it("a repeated query parameter: 400 naming it, whatever its values", async () => {
    for (const path of [`/licenses/${id}?refresh=true&refresh=true`, "/licenses?limit=1&limit=100"]) {
      const answer = await refusedWithoutVendor(() => h.call("GET", path));
      const [name] = Object.keys(fieldsOf(answer));
      expect(answer.body.error.details.fields).toEqual({
        [name as string]: "must be given once, not 2 times",
      });
    }
  });

  it.each([
    ["the valid one first", [`Bearer ${TOKEN}`, "Bearer other-token-0123456789abcdef"]],
    ["the valid one last", ["Bearer other-token-0123456789abcdef", `Bearer ${TOKEN}`]],
    ["the same one twice", [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]],
  ])("two Authorization headers, %s: 401 saying to send one", async (_, values) => {
    for (const [method, path] of [
      ["GET", `/licenses/${id}?refresh=true`],
      ["POST", `/licenses/${id}/suspend`],
    ] as const) {
      const answer = await refusedWithoutVendor(() =>
        h.call(method, path, { token: null, headers: { authorization: values } }),
      );
      expect(answer.status, answer.text).toBe(401);
      expect(answer.body.error).toEqual({
        code: "unauthorized",
        message:
          "this request has 2 Authorization headers: send exactly one, 'Authorization: Bearer <token>'",
        details: {},
      });
    }
  });

  it("two Authorization headers reaching a function (an authorizer answer cached for the last): 401", async () => {
    let ran = false;
    const handler = api(async (request) => {
      ran = true;
      return ok(request.inputs({}));
    });
    const answer = await handler({
      httpMethod: "GET",
      resource: "/licenses",
      headers: { Authorization: `Bearer ${TOKEN}` },
      multiValueHeaders: { Authorization: ["Bearer other-token-0123456789abcdef", `Bearer ${TOKEN}`] },
      requestContext: { authorizer: { client: "local" } },
    } as unknown as APIGatewayProxyEvent);
    expect(answer.statusCode).toBe(401);
    expect(JSON.parse(answer.body).error.message).toMatch(/^this request has 2 Authorization headers/);
    expect(ran).toBe(false);
  });

  it("two Idempotency-Keys: 400 naming the header, nothing bought", async () => {
    for (const [path, body] of [
      ["/licenses", order()],
      [`/licenses/${id}/renew`, { period: 1 }],
    ] as const) {
      const answer = await refusedWithoutVendor(() =>
        h.call("POST", path, { body, headers: { "idempotency-key": ["buy-1", "buy-2"] } }),
      );
      expect(fieldsOf(answer)).toEqual({
        "Idempotency-Key": "must be sent once, not 2 times: one key names one purchase",
      });
    }
  });
});

describe("text that is not UTF-8", () => {
  const bytes = (...parts: Array<string | number[]>) =>
    Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p))));

  it.each([
    ["a stray byte", [0xff]],
    ["an overlong encoding", [0xc0, 0xaf]],
    ["a truncated sequence", [0xe2, 0x82]],
    ["an encoded surrogate", [0xed, 0xa0, 0x80]],
  ])("%s in a name: 400 naming the body, nothing sent", async (_, bad) => {
    const o = order();
    for (const [method, path, raw] of [
      [
        "POST",
        "/licenses",
        bytes(`{"ip":"${o.ip}","product":"ispmanager5-lite","period":1,"name":"a`, bad, '"}'),
      ],
      ["PATCH", `/licenses/${id}`, bytes('{"name":"a', bad, 'b"}')],
    ] as const) {
      const answer = await refusedWithoutVendor(() =>
        h.call(method, path, { rawBody: raw, key: crypto.randomUUID() }),
      );
      expect(fieldsOf(answer)).toEqual({ body: "must be valid UTF-8" });
    }
  });

  it("a name holding U+FFFD (what a decoder on the way writes for such bytes): 400 naming the name", async () => {
    const answer = await refusedWithoutVendor(() =>
      h.call("PATCH", `/licenses/${id}`, { body: { name: "caf\uFFFD" } }),
    );
    expect(fieldsOf(answer)).toEqual({
      name: "must not contain U+FFFD, the replacement character, which stands for text that was not valid UTF-8: send the name as UTF-8",
    });
  });
});
