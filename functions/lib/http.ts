import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import type * as v from "valibot";
import { type FieldErrors, IdempotencyKey, LicenceId, validate } from "../../shared/api/requests.ts";
import { ValidationError } from "../../shared/licences/errors.ts";
import { redact } from "../../shared/redact.ts";
import { errorReply, UnauthorizedError } from "./errors.ts";

/**
 * One JSON line per failure. The stack sets Lambda's JSON log format, which adds the level, time and
 * request id to what is written here: Powertools Logger would add 20 KB to every bundle for the same.
 */
function logFailure(fields: Record<string, unknown>): void {
  console.error(JSON.stringify({ level: "ERROR", message: "request failed", ...fields }));
}

export interface Reply {
  statusCode: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** What a route takes: its path id, a query schema, a body schema, an `Idempotency-Key`. */
export interface InputSpec {
  id?: true;
  query?: v.GenericSchema;
  body?: v.GenericSchema;
  idempotencyKey?: true;
}

export type Inputs<S extends InputSpec> = {
  [K in keyof S]: K extends "query" | "body"
    ? S[K] extends v.GenericSchema
      ? v.InferOutput<S[K]>
      : never
    : string;
};

type Checked<T> = { ok: true; value: T } | { ok: false; fields: FieldErrors };

/** What a handler may ask of its request; each accessor validates or throws a 400. */
export interface Request {
  /** The API client's name, from the authorizer. */
  client: string;
  id(): string;
  query<S extends v.GenericSchema>(schema: S): v.InferOutput<S>;
  /**
   * Every input the route takes, validated together: one 400 names every bad field at once (path id,
   * query, body and `Idempotency-Key`), where `id()` and `query()` stop at their own.
   */
  inputs<S extends InputSpec>(spec: S): Inputs<S>;
  /**
   * Epoch ms by which vendor calls must be done: the function's own deadline less the time it needs to
   * record an unknown outcome and answer. Undefined outside Lambda.
   */
  deadlineMs: number | undefined;
}

/** What a request keeps back from its Lambda's time: writing an unknown mark, keeping the answer, replying. */
export const RECORDING_MARGIN_MS = 3000;

function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value ?? undefined;
  }
  return undefined;
}

function readRequest(
  event: APIGatewayProxyEvent,
  context: Pick<Context, "getRemainingTimeInMillis"> | undefined,
): Request {
  const client = event.requestContext?.authorizer?.client;
  if (typeof client !== "string" || client === "") throw new UnauthorizedError("no API client");
  const remaining = context?.getRemainingTimeInMillis?.();
  const valid = <T>(checked: Checked<T>): T => {
    if (!checked.ok) throw new ValidationError(checked.fields);
    return checked.value;
  };
  return {
    client,
    deadlineMs: remaining === undefined ? undefined : Date.now() + remaining - RECORDING_MARGIN_MS,
    id: () => valid(checkId(event)),
    query: (schema) => valid(checkQuery(event, schema)),
    inputs<S extends InputSpec>(spec: S): Inputs<S> {
      const checks: Array<[string, Checked<unknown>]> = [];
      if (spec.id) checks.push(["id", checkId(event)]);
      if (spec.query) checks.push(["query", checkQuery(event, spec.query)]);
      if (spec.body) checks.push(["body", checkBody(event, spec.body)]);
      if (spec.idempotencyKey) checks.push(["idempotencyKey", checkIdempotencyKey(event)]);
      const fields: FieldErrors = {};
      const values: Record<string, unknown> = {};
      for (const [name, checked] of checks) {
        if (checked.ok) values[name] = checked.value;
        else Object.assign(fields, checked.fields);
      }
      if (Object.keys(fields).length > 0) throw new ValidationError(fields);
      return values as Inputs<S>;
    },
  };
}

function checkId(event: APIGatewayProxyEvent): Checked<string> {
  const result = validate(LicenceId, event.pathParameters?.id ?? "");
  return result.ok ? result : { ok: false, fields: { id: result.fields.body ?? "must be a licence id" } };
}

function checkBody<S extends v.GenericSchema>(
  event: APIGatewayProxyEvent,
  schema: S,
): Checked<v.InferOutput<S>> {
  let parsed: unknown;
  try {
    const raw = event.isBase64Encoded ? Buffer.from(event.body ?? "", "base64").toString("utf8") : event.body;
    parsed = raw ? JSON.parse(raw) : undefined;
  } catch {
    return { ok: false, fields: { body: "must be valid JSON" } };
  }
  // valibot's objects accept arrays (their keys are indexes): a body is a JSON object or nothing.
  if (Array.isArray(parsed)) return { ok: false, fields: { body: "must be a JSON object" } };
  return validate(schema, parsed, "body");
}

function checkQuery<S extends v.GenericSchema>(
  event: APIGatewayProxyEvent,
  schema: S,
): Checked<v.InferOutput<S>> {
  return validate(schema, event.queryStringParameters ?? {}, "query");
}

function checkIdempotencyKey(event: APIGatewayProxyEvent): Checked<string> {
  const result = validate(IdempotencyKey, header(event, "Idempotency-Key") ?? "");
  return result.ok
    ? result
    : { ok: false, fields: { "Idempotency-Key": result.fields.body ?? "is invalid" } };
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

/**
 * A REST proxy handler: parse, call the domain, answer JSON. Every error goes through
 * `errorReply`, so no handler maps errors itself.
 */
export function api(run: (request: Request) => Promise<Reply>) {
  return async (
    event: APIGatewayProxyEvent,
    context?: Pick<Context, "getRemainingTimeInMillis">,
  ): Promise<APIGatewayProxyResult> => {
    try {
      const reply = await run(readRequest(event, context));
      return {
        statusCode: reply.statusCode,
        headers: { ...JSON_HEADERS, ...reply.headers },
        body: JSON.stringify(reply.body),
      };
    } catch (error) {
      const reply = errorReply(error);
      if (reply.statusCode >= 500) {
        logFailure({
          route: `${event.httpMethod} ${event.resource}`,
          code: reply.body.error.code,
          error: redact(error instanceof Error ? `${error.name}: ${error.message}` : String(error)),
          // An unexpected error is a bug: where it happened is what the next reader needs.
          ...(reply.statusCode === 500 &&
            error instanceof Error &&
            error.stack !== undefined && { stack: redact(error.stack) }),
        });
      }
      const headers =
        reply.retryAfterSeconds === undefined
          ? JSON_HEADERS
          : { ...JSON_HEADERS, "retry-after": String(reply.retryAfterSeconds) };
      return { statusCode: reply.statusCode, headers, body: JSON.stringify(reply.body) };
    }
  };
}

export const ok = (body: unknown, statusCode = 200): Reply => ({ statusCode, body });
