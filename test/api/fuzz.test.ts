import { isIP } from "node:net";
import fc from "fast-check";
import type { GenericSchema } from "valibot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Route, routes } from "../../shared/api/routes.ts";
import { type Answer, type ApiHarness, apiHarness, freshIp, OTHER_TOKEN, TOKEN } from "../support/api.ts";
import { liteOrder } from "../support/fixtures.ts";

/**
 * No input crashes a route: every route of the table is sent what a careless or
 * hostile client sends (keys every object inherits, repeated parameters and headers, bytes that are
 * not UTF-8, values of the wrong type, huge ones), over real HTTP through the local gateway, on top of
 * an otherwise valid request for a licence the vendor holds. Each answer must be a 4xx in the error
 * envelope naming exactly the fields broken, and the vendor must hear nothing.
 *
 * Two seeds a run: a fixed one, and a new one printed with the test's name, so a drift in what is
 * refused is caught some day even if the fixed seed never draws it. `FUZZ_SEED=<seed>` replays one seed
 * alone (fast-check prints the seed and path of a failure); `FUZZ_RUNS` sets the requests per seed.
 */

const FIXED_SEED = 20_210_501;
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const SEEDS = process.env.FUZZ_SEED
  ? [Number(process.env.FUZZ_SEED)]
  : [FIXED_SEED, Math.floor(Math.random() * 2 ** 31)];

/** Keys a plain object inherits (`__proto__` and `constructor` lead to its prototype), and `prototype`. */
const INHERITED = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "isPrototypeOf",
  "__defineGetter__",
  "__lookupSetter__",
];

// --- What is wrong, by kind of field ---------------------------------------------------------------

/**
 * Text of `min` characters or more: up to 20,000 in a body, 4,000 in a query (a URL and its headers over
 * 16 KiB are refused by Node's HTTP parser with a bare 431, over 10 KiB by API Gateway, before any route).
 */
const huge = (unit: string, min: number, max = 20_000) =>
  fc.integer({ min, max }).map((n) => unit.repeat(Math.ceil(n / unit.length)));
const QUERY_MAX = 4000;
const shortText = fc.string({ maxLength: 12 });
const notText = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(shortText, fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);
/** Numbers written as strings, and numbers other than the ones allowed. */
const notMonths = fc.oneof(
  fc.constantFrom("1", "12", "01", "1.0", " 1", 0, 2, 3, 6, 24, -1, 1.5, 1e21),
  fc.integer().filter((n) => n !== 1 && n !== 12),
  notText.filter((v) => v !== 1 && v !== 12),
);
const notIp = (max?: number) =>
  fc
    .oneof(
      fc.constantFrom(
        "999.1.1.1",
        "1.2.3",
        "::g",
        "fe80::1%eth0",
        "",
        " ",
        "10.0.0.1/24",
        "localhost",
        "0x7f.1",
      ),
      shortText,
      huge("1.", 65, max),
    )
    .filter((s) => isIP(s.trim()) === 0);
const notName = fc.oneof(
  fc.constantFrom("", "   ", "a\nb", "a\u0000b", "caf\uFFFD", "a\uFFFEb", "a\uD800b", "\u202Eevil"),
  huge("x", 65),
  huge("😀", 66),
);
const PRODUCTS = ["ispmanager5-lite", "ispmanager5-business"];
const notProduct = (max?: number) =>
  fc
    .oneof(
      fc.constantFrom("ISPMANAGER5-LITE", "ispmanager7-pro", "", "-x", "ispmanager5 lite", "lite"),
      shortText,
      huge("a", 64, max),
    )
    .filter((s) => !PRODUCTS.includes(s));

/** A wrong value for each body field, of the wrong type or out of its range. */
const WRONG_BODY: Record<string, fc.Arbitrary<unknown>> = {
  ip: fc.oneof(notText, notIp()),
  name: fc.oneof(notText, notName),
  product: fc.oneof(notText, notProduct()),
  period: notMonths,
  // Out of any product's range, or not a number: refused whatever the product (a change of product to
  // Business takes 1-64; Lite's refusal of any nodes is in test/api/plain-words.test.ts).
  nodes: fc.oneof(
    notText,
    fc.integer().filter((n) => n < 1 || n > 64),
    fc.constantFrom("2", "64", 0, 65, 1.5),
  ),
  autoRenew: notMonths.filter((v) => v !== null),
  client: fc.oneof(notText, fc.constantFrom("", "a\nb", "a\u0000b", "\u202Elocal"), huge("x", 129)),
  outcome: fc.oneof(notText, fc.constantFrom("APPLIED", "applied ", "", "maybe", "notapplied", "unknown")),
  reason: fc.oneof(notText, fc.constantFrom("", "   ", "a\u0000b", "a\nb", "a\u2028b"), huge("x", 501)),
  licenceId: fc.oneof(notText, fc.constantFrom("", "12a", "-1", " 1", "1".repeat(20), "١٢٣")),
  retireOld: fc.oneof(notText, fc.constantFrom("", "NOW", "after-expiry", "later", "never ")),
  // A plan is an object (or null): text, numbers and booleans are refused as a whole (a plan
  // missing its period is named inside it: test/api/successor.test.ts).
  // (null drops a plan: a right value, so not drawn.)
  successor: fc.oneof(
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    shortText,
  ),
};

/** A wrong value for each query parameter: a query carries only text. */
const WRONG_QUERY: Record<string, fc.Arbitrary<string>> = {
  status: fc.oneof(fc.constantFrom("ACTIVE", "gone", "", "active "), huge("a", 100, QUERY_MAX)),
  expiresBefore: fc.oneof(
    fc.constantFrom("2021-13-01", "2021-02-30", "20210501", "tomorrow", ""),
    huge("2", 11, QUERY_MAX),
  ),
  limit: fc.constantFrom("0", "101", "1000", "-1", "1.5", "1e2", " 5", "", "abc", "0x10"),
  // Only what the schema refuses: a well-formed cursor nobody issued is refused by the register later,
  // and not named when another field already failed.
  cursor: huge("A", 2049, QUERY_MAX),
  refresh: fc
    .oneof(fc.constantFrom("TRUE", "1", "yes", ""), shortText)
    .filter((s) => s !== "true" && s !== "false"),
  ip: notIp(QUERY_MAX),
  product: notProduct(QUERY_MAX),
  period: fc
    .oneof(fc.constantFrom("0", "2", "01", "1.0", " 1", "12 ", ""), shortText)
    .filter((s) => s !== "1" && s !== "12"),
  state: fc
    .oneof(fc.constantFrom("UNDECIDED", "open", "", "undecided ", "unknown"), huge("u", 20, QUERY_MAX))
    .filter((s) => s !== "undecided" && s !== "unresolved"),
};

/** Byte sequences no UTF-8 decoder may accept, alone or between two characters. */
const notUtf8 = fc.oneof(
  fc.constantFrom(
    [0xff],
    [0xfe],
    [0x80],
    [0xc0, 0xaf],
    [0xe0, 0x80, 0x80],
    [0xed, 0xa0, 0x80],
    [0xc3],
    [0xe2, 0x82],
    [0xf4, 0x90, 0x80, 0x80],
    [0xf8, 0x88, 0x80, 0x80, 0x80],
  ),
  fc
    .uint8Array({ minLength: 1, maxLength: 6 })
    .map((bytes) => [...bytes])
    .filter((bytes) => !isUtf8(bytes)),
);
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });
function isUtf8(bytes: readonly number[]): boolean {
  try {
    STRICT_UTF8.decode(Uint8Array.from(bytes));
    return true;
  } catch {
    return false;
  }
}

// --- Each route's valid request, and what can be broken in it ---------------------------------------

interface Valid {
  query: Record<string, string>;
  body?: Record<string, unknown>;
}

/** One valid request per route, each of which would reach the vendor or the register if let through. */
function validRequest(route: Route): Valid {
  switch (`${route.method} ${route.path}`) {
    case "POST /licenses":
      return { query: {}, body: liteOrder({ name: "fuzz" }) };
    case "GET /licenses":
      return { query: { limit: "10" } };
    case "GET /licenses/{id}":
      return { query: { refresh: "true" } };
    case "PATCH /licenses/{id}":
      return { query: {}, body: { name: "fuzz-renamed" } };
    case "POST /licenses/{id}/renew":
      return { query: {}, body: { period: 1 } };
    case "POST /licenses/{id}/successor":
      return { query: {}, body: { period: 12 } };
    case "POST /licenses/{id}/change-product":
      return { query: {}, body: { product: "ispmanager5-business" } };
    case "GET /ip-availability":
      return { query: { ip: freshIp(), product: "ispmanager5-lite", period: "1" } };
    case "GET /outcomes":
      return { query: { state: "unresolved" } };
    case "POST /outcomes/{key}":
      return { query: {}, body: { client: "local", outcome: "not_applied", reason: "fuzz" } };
    default:
      return { query: {} };
  }
}

/** A schema's field names (a strict object, or one at the head of a pipe). */
function fieldsOf(schema: GenericSchema | undefined): string[] {
  const s = schema as { entries?: object; pipe?: Array<{ entries?: object }> } | undefined;
  return Object.keys(s?.entries ?? s?.pipe?.[0]?.entries ?? {});
}

type Mutation =
  | { kind: "inheritedQueryKey"; key: string; value: string }
  | { kind: "inheritedBodyKey"; key: string; value: unknown }
  | { kind: "repeatedQuery"; key: string; times: number }
  | { kind: "wrongQuery"; key: string; value: string }
  | { kind: "wrongField"; key: string; value: unknown }
  | { kind: "notAnObject"; text: string }
  | { kind: "notUtf8"; bytes: readonly number[]; at: number }
  | { kind: "twoAuthorizations"; values: [string, string] }
  | { kind: "twoIdempotencyKeys"; values: [string, string] }
  | { kind: "badId"; segment: string }
  | { kind: "badKey"; segment: string };

function mutations(route: Route): fc.Arbitrary<Mutation> {
  const query = fieldsOf(route.query);
  const body = fieldsOf(route.body);
  const headerText = fc.stringMatching(/^[\x21-\x7e]{1,40}$/);
  const options: Array<fc.Arbitrary<Mutation>> = [
    fc.record({
      kind: fc.constant("inheritedQueryKey"),
      key: fc.constantFrom(...INHERITED),
      value: shortText,
    }),
    fc.record({
      kind: fc.constant("inheritedBodyKey"),
      key: fc.constantFrom(...INHERITED),
      value: fc.jsonValue({ maxDepth: 2 }),
    }),
    fc.record({
      kind: fc.constant("repeatedQuery"),
      key: fc.constantFrom(...query, ...INHERITED),
      times: fc.integer({ min: 2, max: 3 }),
    }),
    fc.record({
      kind: fc.constant("notAnObject"),
      text: fc.oneof(
        fc.constantFrom("null", "0", "12", "true", "[]", '"period"', "[{}]"),
        fc
          .jsonValue()
          .filter((v) => typeof v !== "object" || v === null || Array.isArray(v))
          .map((v) => JSON.stringify(v)),
      ),
    }),
    fc.record({
      kind: fc.constant("notUtf8"),
      bytes: notUtf8,
      at: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
    fc.record({
      kind: fc.constant("twoAuthorizations"),
      values: fc.oneof(
        fc.constant<[string, string]>([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]),
        fc.constant<[string, string]>([`Bearer ${TOKEN}`, `Bearer ${OTHER_TOKEN}`]),
        fc.constant<[string, string]>([`Bearer ${OTHER_TOKEN}`, `Bearer ${TOKEN}`]),
        headerText.map((junk): [string, string] => [`Bearer ${TOKEN}`, junk]),
        headerText.map((junk): [string, string] => [junk, `Bearer ${TOKEN}`]),
      ),
    }),
  ];
  if (query.length > 0) {
    options.push(
      fc.constantFrom(...query).chain((key) =>
        fc.record({
          kind: fc.constant("wrongQuery"),
          key: fc.constant(key),
          value: arbitraryFor(WRONG_QUERY, key),
        }),
      ),
    );
  }
  if (body.length > 0) {
    options.push(
      fc.constantFrom(...body).chain((key) =>
        fc.record({
          kind: fc.constant("wrongField"),
          key: fc.constant(key),
          value: arbitraryFor(WRONG_BODY, key),
        }),
      ),
    );
  }
  if (route.idempotencyKey) {
    options.push(
      fc.record({ kind: fc.constant("twoIdempotencyKeys"), values: fc.tuple(headerText, headerText) }),
    );
  }
  if (route.path.includes("{id}")) {
    options.push(
      fc.record({
        kind: fc.constant("badId"),
        segment: fc.oneof(
          fc.constantFrom(...INHERITED, "%E0%A4%A", "%00", "12a", "-1", "1".repeat(20), "%F0%9F%98%80"),
          fc.stringMatching(/^[A-Za-z_$~-]{1,30}$/),
        ),
      }),
    );
  }
  if (route.path.includes("{key}")) {
    options.push(
      fc.record({
        kind: fc.constant("badKey"),
        // Decoded once on the way: a space, a control character, a letter beyond ASCII, too long.
        segment: fc.constantFrom("a%20b", "%00", "%7F", "%C3%A9", "%F0%9F%98%80", "k".repeat(256)),
      }),
    );
  }
  return fc.oneof(...options) as fc.Arbitrary<Mutation>;
}

function arbitraryFor<T>(table: Record<string, fc.Arbitrary<T>>, key: string): fc.Arbitrary<T> {
  const arbitrary = table[key];
  if (!arbitrary) throw new Error(`the fuzz has no wrong values for ${key}: add them`);
  return arbitrary;
}

// --- A request from a valid one and its mutations, and what must come back --------------------------

interface Attempt {
  method: Route["method"];
  path: string;
  headers: Record<string, string | string[]>;
  body: Uint8Array | undefined;
  /** 401, or 400 naming exactly these fields. */
  expected: { status: 401 } | { status: 400; fields: string[] };
}

let attempts = 0;

function attempt(route: Route, id: string, changes: Mutation[]): Attempt {
  const valid = validRequest(route);
  const query: Array<[string, string]> = Object.entries(valid.query);
  const body: Array<[string, unknown]> = valid.body ? Object.entries(valid.body) : [];
  let bodyText: string | undefined;
  let badBytes: { bytes: readonly number[]; at: number } | undefined;
  let segment = id;
  let keySegment = "fuzz-key";
  const headers: Record<string, string | string[]> = { authorization: `Bearer ${TOKEN}` };
  if (route.idempotencyKey) headers["idempotency-key"] = `fuzz-${process.pid}-${++attempts}`;
  // Named apart: a body refused as a whole names `body`, not its fields, but the query is still read.
  const queryFields = new Set<string>();
  const bodyFields = new Set<string>();
  const otherFields = new Set<string>();
  let unauthorized = false;
  let wholeBody = false;

  const set = <T>(pairs: Array<[string, T]>, key: string, value: T) => {
    const at = pairs.findIndex(([k]) => k === key);
    if (at >= 0) pairs[at] = [key, value];
    else pairs.push([key, value]);
  };

  for (const change of changes) {
    switch (change.kind) {
      case "inheritedQueryKey":
        query.push([change.key, change.value]);
        queryFields.add(change.key);
        break;
      case "repeatedQuery": {
        const value = query.find(([k]) => k === change.key)?.[1] ?? "1";
        for (let i = query.some(([k]) => k === change.key) ? 1 : 0; i < change.times; i++)
          query.push([change.key, value]);
        queryFields.add(change.key);
        break;
      }
      case "wrongQuery":
        set(query, change.key, change.value);
        queryFields.add(change.key);
        break;
      case "inheritedBodyKey":
        body.push([change.key, change.value]);
        bodyFields.add(change.key);
        break;
      case "wrongField":
        set(body, change.key, change.value);
        bodyFields.add(change.key);
        break;
      case "notAnObject":
        bodyText = change.text;
        wholeBody = true;
        break;
      case "notUtf8":
        badBytes = change;
        wholeBody = true;
        break;
      case "twoAuthorizations":
        headers.authorization = change.values;
        unauthorized = true;
        break;
      case "twoIdempotencyKeys":
        headers["idempotency-key"] = change.values;
        otherFields.add("Idempotency-Key");
        break;
      case "badId":
        segment = change.segment;
        otherFields.add("id");
        break;
      case "badKey":
        keySegment = change.segment;
        otherFields.add("key");
        break;
    }
  }

  // Written pair by pair: in an object literal `__proto__` would set the prototype instead of being a
  // key, and a client's JSON text holds it as a key like any other.
  bodyText ??=
    body.length > 0
      ? `{${body.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`
      : undefined;
  let bytes = bodyText === undefined ? undefined : Buffer.from(bodyText);
  if (badBytes) {
    // Between two characters, so the bytes around stay whole and only the inserted ones are wrong.
    const chars = Array.from(bodyText ?? "");
    const cut = Math.floor(badBytes.at * chars.length);
    bytes = Buffer.concat([
      Buffer.from(chars.slice(0, cut).join("")),
      Buffer.from(badBytes.bytes),
      Buffer.from(chars.slice(cut).join("")),
    ]);
  }
  // The body refused as a whole: none of its fields is looked at.
  const fields = new Set([...queryFields, ...(wholeBody ? ["body"] : bodyFields), ...otherFields]);

  const search = new URLSearchParams(query).toString();
  return {
    method: route.method,
    path: `${route.path.replace("{id}", segment).replace("{key}", keySegment)}${search ? `?${search}` : ""}`,
    headers: bytes === undefined ? headers : { ...headers, "content-type": "application/json" },
    body: bytes,
    expected: unauthorized ? { status: 401 } : { status: 400, fields: [...fields].sort() },
  };
}

// --- The run ----------------------------------------------------------------------------------------

let h: ApiHarness;
let id: string;
beforeAll(async () => {
  h = await apiHarness({ now: "2021-05-01" });
  const created = await h.call("POST", "/licenses", {
    body: liteOrder({ name: "fuzzed" }),
    key: crypto.randomUUID(),
  });
  expect(created.status, created.text).toBe(201);
  id = created.body.id;
});
afterAll(() => h.close());

function checkAnswer(sent: Attempt, answer: Answer): void {
  const what = `${sent.method} ${sent.path.slice(0, 200)}: ${answer.text.slice(0, 500)}`;
  expect(answer.status, what).toBe(sent.expected.status);
  expect(Object.keys(answer.body ?? {}), what).toEqual(["error"]);
  const { code, message, details } = answer.body.error;
  expect(typeof message === "string" && message.length > 0, what).toBe(true);
  expect(typeof details === "object" && details !== null, what).toBe(true);
  if (sent.expected.status === 401) {
    expect(code, what).toBe("unauthorized");
    return;
  }
  expect(code, what).toBe("invalid_request");
  const named = Object.keys(details.fields ?? {}).sort();
  expect(named, what).toEqual(sent.expected.fields);
  for (const field of named) expect(typeof details.fields[field], what).toBe("string");
}

describe("no input crashes a route", () => {
  it("the fuzz knows every route of the table and every field of its schemas", () => {
    for (const route of routes) {
      const valid = validRequest(route);
      expect(Object.keys(valid.body ?? {}).length > 0, `${route.method} ${route.path}`).toBe(!!route.body);
      expect(Object.keys(valid.query).length > 0, `${route.method} ${route.path}`).toBe(!!route.query);
      for (const field of fieldsOf(route.body)) expect(WRONG_BODY, field).toHaveProperty(field);
      for (const field of fieldsOf(route.query)) expect(WRONG_QUERY, field).toHaveProperty(field);
    }
  });

  it.each(SEEDS)(
    `seed %i: ${RUNS} requests, each a 4xx naming what is wrong, none reaching the vendor`,
    async (seed) => {
      console.log(`fuzz seed ${seed}, ${RUNS} requests; replay with FUZZ_SEED=${seed}`);
      const callsBefore = h.vendor.sandbox.calls.length;
      const request = fc
        .constantFrom(...routes)
        .chain((route) =>
          fc.tuple(
            fc.constant(route),
            fc.uniqueArray(mutations(route), { minLength: 1, maxLength: 3, selector: (m) => m.kind }),
          ),
        );
      await fc.assert(
        fc.asyncProperty(request, async ([route, changes]) => {
          const sent = attempt(route, id, changes);
          const before = h.vendor.sandbox.calls.length;
          const answer = await h.call(sent.method, sent.path, {
            token: null,
            headers: sent.headers,
            ...(sent.body !== undefined && { rawBody: sent.body }),
          });
          checkAnswer(sent, answer);
          expect(h.vendor.sandbox.calls.length, `${sent.method} ${sent.path}: a vendor call`).toBe(before);
        }),
        { seed, numRuns: RUNS },
      );
      expect(h.vendor.sandbox.calls.length).toBe(callsBefore);
    },
    120_000,
  );
});
