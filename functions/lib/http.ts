import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import * as v from "valibot";
import { type FieldErrors, IdempotencyKey, LicenceId, validate } from "../../shared/api/requests.ts";
import { ValidationError } from "../../shared/domain/licences/errors.ts";
import { fieldErrors } from "../../shared/domain/licences/inputs.ts";
import { errorText, log } from "../../shared/log.ts";
import { errorReply, UnauthorizedError } from "./errors.ts";
import { headerValues, repeatedAuthorization } from "./headers.ts";

export interface Reply {
  statusCode: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** What a route takes: its path id or key, a query schema, a body schema, an `Idempotency-Key`. */
export interface InputSpec {
  id?: true;
  /** `{key}` in the path: an `Idempotency-Key`, percent-encoded by the caller and decoded once on the way. */
  key?: true;
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

/** What a handler may ask of its request. */
export interface Request {
  /** The API client's name, from the authorizer. */
  client: string;
  /**
   * Every input the route takes, validated together: one 400 names every bad field at once (path id,
   * query, body and `Idempotency-Key`). What the spec leaves out is refused, not ignored: a query
   * parameter or a body on a route that takes none is named like any unknown field. Every handler
   * calls this before anything else.
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

/** A route that takes no query parameters refuses every one, by name. */
const NO_QUERY = v.strictObject({});
/** A route that takes no body accepts none, or `{}` (what some clients send with every POST). */
const NO_BODY = v.optional(v.strictObject({}));

function readRequest(
  event: APIGatewayProxyEvent,
  context: Pick<Context, "getRemainingTimeInMillis"> | undefined,
): Request {
  // API Gateway hands the authorizer and this function only the last of two `Authorization` headers,
  // and its authorizer cache may answer for that one alone; a proxy in front may have read the first.
  // Two claims of who is calling are refused here too, as the authorizer refuses them (the same 401).
  const authorizations = headerValues(event, "Authorization").length;
  if (authorizations > 1)
    throw new UnauthorizedError("repeated Authorization header", repeatedAuthorization(authorizations));
  const client = event.requestContext?.authorizer?.client;
  if (typeof client !== "string" || client === "") throw new UnauthorizedError("no API client");
  const remaining = context?.getRemainingTimeInMillis?.();
  return {
    client,
    deadlineMs: remaining === undefined ? undefined : Date.now() + remaining - RECORDING_MARGIN_MS,
    inputs<S extends InputSpec>(spec: S): Inputs<S> {
      const checks: Array<[keyof InputSpec, Checked<unknown>]> = [
        ["query", checkQuery(event, spec.query ?? NO_QUERY)],
        ["body", checkBody(event, spec.body ?? NO_BODY)],
      ];
      if (spec.key) checks.unshift(["key", checkKey(event)]);
      if (spec.id) checks.unshift(["id", checkId(event)]);
      if (spec.idempotencyKey) checks.push(["idempotencyKey", checkIdempotencyKey(event)]);
      // Whether a check failed decides, never what its problems are called: a field the client named
      // `__proto__` or `constructor` is a problem like any other.
      const problems: Array<[string, string]> = [];
      const values = new Map<keyof InputSpec, unknown>();
      for (const [name, checked] of checks) {
        if (!checked.ok) problems.push(...Object.entries(checked.fields));
        else if (spec[name] !== undefined) values.set(name, checked.value);
      }
      if (checks.some(([, checked]) => !checked.ok)) throw new ValidationError(fieldErrors(problems));
      return Object.fromEntries(values) as Inputs<S>;
    },
  };
}

const refused = (field: string, message: string): { ok: false; fields: FieldErrors } => ({
  ok: false,
  fields: fieldErrors([[field, message]]),
});

function checkId(event: APIGatewayProxyEvent): Checked<string> {
  const result = validate(LicenceId, event.pathParameters?.id ?? "");
  return result.ok ? result : refused("id", result.fields.body ?? "must be a licence id");
}

/**
 * The path's `{key}` as API Gateway hands it over, decoded once (the local gateway does the same): it is
 * used as it is, never decoded again, so a key holding `%` stays the key it is.
 */
function checkKey(event: APIGatewayProxyEvent): Checked<string> {
  const result = validate(IdempotencyKey, event.pathParameters?.key ?? "");
  return result.ok
    ? result
    : refused(
        "key",
        `${result.fields.body ?? "is invalid"} (an Idempotency-Key, percent-encoded in the path)`,
      );
}

/** Refuses bytes that are not UTF-8 instead of reading them as U+FFFD, which would reach the vendor. */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function checkBody<S extends v.GenericSchema>(
  event: APIGatewayProxyEvent,
  schema: S,
): Checked<v.InferOutput<S>> {
  let raw = event.body;
  if (event.isBase64Encoded) {
    try {
      raw = UTF8.decode(Buffer.from(event.body ?? "", "base64"));
    } catch {
      return refused("body", "must be valid UTF-8");
    }
  }
  let parsed: unknown;
  try {
    parsed = raw ? JSON.parse(raw) : undefined;
  } catch {
    return refused("body", "must be valid JSON");
  }
  // valibot's objects accept arrays (their keys are indexes): a body is a JSON object or nothing.
  if (Array.isArray(parsed)) return refused("body", "must be a JSON object");
  return validate(schema, parsed, "body");
}

function checkQuery<S extends v.GenericSchema>(
  event: APIGatewayProxyEvent,
  schema: S,
): Checked<v.InferOutput<S>> {
  const checked = validate(schema, event.queryStringParameters ?? {}, "query");
  // API Gateway keeps the last of a repeated parameter in `queryStringParameters`: which one the client
  // meant is unknown, so the parameter is refused by name rather than one of its values taken.
  const repeated = Object.entries(event.multiValueQueryStringParameters ?? {}).flatMap(([name, values]) =>
    values && values.length > 1 ? [[name, `must be given once, not ${values.length} times`] as const] : [],
  );
  if (repeated.length === 0) return checked;
  return {
    ok: false,
    fields: fieldErrors([...(checked.ok ? [] : Object.entries(checked.fields)), ...repeated]),
  };
}

function checkIdempotencyKey(event: APIGatewayProxyEvent): Checked<string> {
  const keys = headerValues(event, "Idempotency-Key");
  // Two keys could name two purchases: which one this request is, only the client knows.
  if (keys.length > 1)
    return refused(
      "Idempotency-Key",
      `must be sent once, not ${keys.length} times: one key names one purchase`,
    );
  const result = validate(IdempotencyKey, keys[0] ?? "");
  return result.ok ? result : refused("Idempotency-Key", result.fields.body ?? "is invalid");
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
        log("ERROR", "request failed", {
          route: `${event.httpMethod} ${event.resource}`,
          code: reply.body.error.code,
          error: errorText(error),
          // An unexpected error is a bug: where it happened is what the next reader needs.
          ...(reply.statusCode === 500 &&
            error instanceof Error &&
            error.stack !== undefined && { stack: error.stack }),
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
