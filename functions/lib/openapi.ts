import { toJsonSchema } from "@valibot/to-json-schema";
import type { GenericSchema } from "valibot";
import {
  IpAvailability,
  Licence,
  LicencePage,
  NewKey,
  OutcomeList,
  Settlement,
} from "../../shared/api/responses.ts";
import { type Route, routes } from "../../shared/api/routes.ts";
import { CODE_STATUS, ERROR_CODES } from "./errors.ts";

type JsonSchema = Record<string, unknown>;

function schema(s: GenericSchema): JsonSchema {
  const { $schema: _, ...rest } = toJsonSchema(s, { errorMode: "ignore" }) as JsonSchema;
  return rest;
}

const RESPONSES: Record<string, GenericSchema> = {
  "list-licences": LicencePage,
  "regenerate-key": NewKey,
  "ip-availability": IpAvailability,
  "list-outcomes": OutcomeList,
  "settle-outcome": Settlement,
};

/** What each code tells the client, in the document's words. */
export const CODE_MEANING: Readonly<Record<string, string>> = {
  invalid_request: "`details.fields` names every offending field, each with what is wrong with it",
  unauthorized: "no bearer token, one nobody holds, or more than one Authorization header",
  internal_error: "a bug on our side; it has been logged",
  not_found: "not in the register, or unknown to the vendor",
  lifecycle_closed: "the product's lifecycle forbids it today; nothing was sent",
  already_at_cap: "the licence already runs to the last day its product allows; nothing was sent or charged",
  idempotency_key_reused: "this Idempotency-Key was used for a different request",
  request_in_progress:
    "the first request with this Idempotency-Key is still running: retry after Retry-After",
  outcome_unknown: 'the vendor may have carried it out (`outcome: "unknown"`): retry with the same key',
  outcome_pending:
    "the outcome of the first request with this key is not settled yet: retry after Retry-After",
  renewal_in_flight:
    "a renewal or change of product of this licence is in flight or awaits its outcome (a suspend waits for it too); nothing was sent",
  successor_exists:
    "the licence already has a live successor (its id in details.successorId); nothing was sent or charged",
  licence_deleted:
    "the licence is deleted at the vendor: order a new licence instead; nothing was sent or charged",
  product_unchanged:
    "the licence already has this product (and these nodes), at the register or the vendor; nothing was sent or charged",
  order_in_flight:
    "another order for this IP and product line is in flight or awaits its outcome; nothing was sent: check GET /licenses before ordering again",
  renewal_not_wanted:
    "the licence is being suspended through the desk (or, for the watcher, no longer set to renew); nothing was sent",
  deadline_near: "too little of the request's time was left to send it safely; nothing was sent",
  forbidden: "only the API clients named in OPERATOR_CLIENTS may; nothing was read or changed",
  outcome_settled:
    "the money call is settled already (its answer is kept, or the vendor confirmed it applied): nothing was changed",
  order_not_placed: "the unanswered order was never placed: order again with a new key",
  renewal_not_applied: "the unanswered renewal was never applied: renew again with a new key",
  product_change_not_applied:
    "the unanswered change of product was never applied: change it again with a new key",
  upstream_auth: "the vendor refused our credentials",
  upstream_rejected: "the vendor refused a value (`details.vendorObject` names it)",
  upstream_refused: "the vendor refused access to this licence or action",
  conflict: "the vendor already has it (an IP already licensed)",
  insufficient_balance: "the vendor account's balance does not cover it",
  upstream_error: "the vendor answered with an error this API does not know",
  upstream_throttled: "the vendor is throttling or overloaded: retry after Retry-After",
  upstream_timeout: "the vendor did not answer in time",
  upstream_unavailable: "the vendor could not be reached or gave no usable answer",
};

const EVERY_ROUTE = ["invalid_request", "unauthorized", "internal_error"];
const VENDOR_ROUTE = [
  "not_found",
  "upstream_auth",
  "upstream_rejected",
  "upstream_refused",
  "conflict",
  "upstream_error",
  "upstream_throttled",
  "upstream_timeout",
  "upstream_unavailable",
];
const MONEY_ROUTE = [
  "insufficient_balance",
  "idempotency_key_reused",
  "request_in_progress",
  "outcome_unknown",
  "outcome_pending",
  "deadline_near",
];

/** The codes one route can answer with: what every route can, its vendor and money calls', its own. */
export function errorCodes(route: Route): string[] {
  return [
    ...new Set([
      ...EVERY_ROUTE,
      ...(route.path.includes("{id}") ? ["not_found"] : []),
      ...(route.operator ? ["forbidden"] : []),
      ...(route.vendor ? VENDOR_ROUTE : []),
      ...(route.idempotencyKey ? MONEY_ROUTE : []),
      ...(route.refusals ?? []),
    ]),
  ];
}

const RETRY_AFTER = {
  "Retry-After": {
    description: "Seconds to wait before retrying with the same request (and Idempotency-Key)",
    schema: { type: "integer", minimum: 1 },
  },
};

function errorResponses(route: Route): Record<string, JsonSchema> {
  const byStatus = new Map<number, string[]>();
  for (const code of errorCodes(route)) {
    const status = CODE_STATUS[code];
    if (status === undefined) throw new Error(`no status for error code ${code}`);
    if (CODE_MEANING[code] === undefined) throw new Error(`no meaning for error code ${code}`);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, JsonSchema> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const retry = codes.some((c) => /in_progress|pending|throttled|deadline|outcome_unknown/.test(c));
    responses[String(status)] = {
      description: codes.map((c) => `\`${c}\`: ${CODE_MEANING[c as keyof typeof CODE_MEANING]}`).join("; "),
      ...(retry && { headers: RETRY_AFTER }),
      content: {
        "application/json": {
          schema: {
            allOf: [
              { $ref: "#/components/schemas/Error" },
              { properties: { error: { properties: { code: { enum: codes } } } } },
            ],
          },
        },
      },
    };
  }
  return responses;
}

function operation(route: Route): JsonSchema {
  const parameters: JsonSchema[] = [];
  if (route.path.includes("{id}")) {
    parameters.push({
      name: "id",
      in: "path",
      required: true,
      description: "The vendor's licence id",
      schema: { type: "string", pattern: "^\\d{1,19}$" },
    });
  }
  if (route.path.includes("{key}")) {
    parameters.push({
      name: "key",
      in: "path",
      required: true,
      description:
        "The money call's Idempotency-Key, percent-encoded (encodeURIComponent: `/`, `?`, `#`, `%` and the like)",
      schema: { type: "string", minLength: 1, maxLength: 255 },
    });
  }
  if (route.query) {
    const query = schema(route.query) as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, property] of Object.entries(query.properties ?? {})) {
      parameters.push({
        name,
        in: "query",
        required: query.required?.includes(name) ?? false,
        schema: property,
      });
    }
  }
  if (route.idempotencyKey) {
    parameters.push({
      name: "Idempotency-Key",
      in: "header",
      required: true,
      description: "Names one purchase: repeats answer the first result and never charge twice",
      schema: { type: "string", minLength: 1, maxLength: 255 },
    });
  }
  const success = RESPONSES[route.handler] ?? Licence;
  return {
    operationId: route.handler.replace(/-(\w)/g, (_, c: string) => c.toUpperCase()),
    summary: route.summary,
    tags: [route.tag],
    ...(parameters.length > 0 && { parameters }),
    ...(route.body && {
      requestBody: { required: true, content: { "application/json": { schema: schema(route.body) } } },
    }),
    responses: {
      [route.success]: {
        description: "Success",
        ...(route.idempotencyKey && {
          headers: {
            "Idempotent-Replayed": {
              description: "`true` when this is the stored answer of an earlier request with the same key",
              schema: { type: "string", enum: ["true", "false"] },
            },
          },
        }),
        content: { "application/json": { schema: schema(success) } },
      },
      ...errorResponses(route),
    },
  };
}

/** OpenAPI 3.1 for the whole API, generated from the route table and the request schemas. */
export function openApiDocument(): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, JsonSchema>)[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "ISPmanager licence desk",
      version: "1.0.0",
      description:
        "A reseller's own API for ISPmanager licences: orders and renewals that never charge twice, " +
        "a register kept in step with the vendor every night. Every answer carries `cache-control: no-store`.",
      // The project is the reseller's own service, published under no public licence.
      license: { name: "Proprietary", identifier: "LicenseRef-Proprietary" },
    },
    servers: [
      {
        url: "https://{apiId}.execute-api.{region}.amazonaws.com/{stage}",
        description: "Deployed with `cdk deploy`: the stack's ApiUrl output",
        variables: {
          apiId: { default: "apiId", description: "The REST API's id, from the ApiUrl output" },
          region: { default: "eu-west-1", description: "The region the stack is deployed to" },
          stage: { default: "v1", description: "The stage (context value apiStageName)" },
        },
      },
      { url: "http://127.0.0.1:3000", description: "`npm start` on this machine (PORT, default 3000)" },
    ],
    tags: [
      { name: "licences", description: "The register's licences and what can be done to them at the vendor" },
      { name: "availability", description: "Checks before an order" },
      {
        name: "operators",
        description:
          "Money calls the evidence cannot decide, settled by hand: only for the clients named in OPERATOR_CLIENTS",
      },
    ],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "`Authorization: Bearer <token>`" },
      },
      schemas: {
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["code", "message", "details"],
              properties: {
                code: { type: "string", enum: [...new Set(ERROR_CODES)] },
                message: { type: "string" },
                details: {
                  type: "object",
                  properties: {
                    fields: {
                      type: "object",
                      description: "On `invalid_request`: each offending field and what is wrong with it",
                      additionalProperties: { type: "string" },
                    },
                  },
                },
              },
            },
            outcome: { type: "string", enum: ["unknown"] },
          },
        },
      },
    },
  };
}
