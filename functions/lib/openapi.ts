import { toJsonSchema } from "@valibot/to-json-schema";
import type { GenericSchema } from "valibot";
import { IpAvailability, Licence, LicencePage, NewKey } from "../../shared/api/responses.ts";
import { type Route, routes } from "../../shared/api/routes.ts";
import { ERROR_CODES } from "./errors.ts";

type JsonSchema = Record<string, unknown>;

function schema(s: GenericSchema): JsonSchema {
  const { $schema: _, ...rest } = toJsonSchema(s, { errorMode: "ignore" }) as JsonSchema;
  return rest;
}

const RESPONSES: Record<string, GenericSchema> = {
  "list-licences": LicencePage,
  "regenerate-key": NewKey,
  "ip-availability": IpAvailability,
};

const STATUS_TEXT: Record<number, string> = {
  400: "Invalid request: `details.fields` names each offending field",
  401: "No or unknown bearer token",
  402: "The vendor account's balance does not cover it",
  404: "Not in the register, or unknown to the vendor",
  409: "Conflict: IP already licensed, or the first request with this Idempotency-Key still running",
  422: "Refused: lifecycle closed, vendor rejected a value, or Idempotency-Key reused with another body",
  502: "Vendor unavailable, unparseable, or refused our credentials",
  504: 'Vendor timeout; for money-moving calls `outcome: "unknown"`: retry with the same key to reconcile',
};

function operation(route: Route): JsonSchema {
  const parameters: JsonSchema[] = [];
  if (route.path.includes("{id}")) {
    parameters.push({
      name: "id",
      in: "path",
      required: true,
      schema: { type: "string", pattern: "^\\d{1,19}$" },
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
  const errors = Object.fromEntries(
    Object.entries(STATUS_TEXT).map(([status, description]) => [
      status,
      { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
    ]),
  );
  return {
    operationId: route.handler.replace(/-(\w)/g, (_, c: string) => c.toUpperCase()),
    summary: route.summary,
    ...(parameters.length > 0 && { parameters }),
    ...(route.body && {
      requestBody: { required: true, content: { "application/json": { schema: schema(route.body) } } },
    }),
    responses: {
      [route.success]: {
        description: "Success",
        content: { "application/json": { schema: schema(success) } },
      },
      ...errors,
    },
  };
}

/** OpenAPI 3 for the whole API, generated from the route table and the request schemas. */
export function openApiDocument(): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, JsonSchema>)[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: "3.1.0",
    info: { title: "ISPmanager licence desk", version: "1.0.0" },
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
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
                details: { type: "object" },
              },
            },
            outcome: { type: "string", enum: ["unknown"] },
          },
        },
      },
    },
  };
}
