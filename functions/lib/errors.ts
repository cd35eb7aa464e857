import { DeskError } from "../../shared/domain/licences/errors.ts";
import {
  BillmgrCredentialsError,
  BillmgrError,
  BillmgrThrottledError,
  BillmgrTimeoutError,
  BillmgrVendorError,
} from "../../shared/domain/ports/billing-errors.ts";
import type { MoneyAnswer } from "../../shared/domain/ports/intent-store.ts";
import { InvalidCursorError } from "../../shared/domain/ports/licence-store.ts";
import { redact } from "../../shared/redact.ts";

export interface ErrorReply {
  statusCode: number;
  body: { error: { code: string; message: string; details: Record<string, unknown> }; outcome?: "unknown" };
  /** `Retry-After` (seconds), where a retry with the same request is the next step. */
  retryAfterSeconds?: number;
}

/** Anything without an API client: no token, a token nobody holds, or more than one. */
export class UnauthorizedError extends Error {
  override readonly name = "UnauthorizedError";
  /** `message` is for the log; `answer` is what the client reads. */
  constructor(
    message: string,
    readonly answer = "a valid 'Authorization: Bearer <token>' header is required",
  ) {
    super(message);
  }
}

const DESK_STATUS: Record<string, number> = {
  invalid_request: 400,
  not_found: 404,
  lifecycle_closed: 422,
  // 422 like lifecycle_closed: the request can never succeed as it stands. (A 409 is a conflict with
  // another request or with the register: some clear by waiting, some want a new key.)
  already_at_cap: 422,
  idempotency_key_reused: 422,
  request_in_progress: 409,
  outcome_unknown: 504,
  outcome_pending: 409,
  renewal_in_flight: 409,
  order_in_flight: 409,
  successor_exists: 409,
  licence_deleted: 409,
  product_unchanged: 409,
  outcome_settled: 409,
  forbidden: 403,
  renewal_not_wanted: 409,
  deadline_near: 503,
};

/** The vendor's `<error type>`, as our status and code. */
const VENDOR: Record<string, [number, string]> = {
  auth: [502, "upstream_auth"],
  value: [422, "upstream_rejected"],
  missed: [404, "not_found"],
  exists: [409, "conflict"],
  balance: [402, "insufficient_balance"],
  access: [422, "upstream_refused"],
};

/** Every error becomes the one envelope, in this one place. */
export function errorReply(error: unknown): ErrorReply {
  if (error instanceof DeskError) {
    const body: ErrorReply["body"] = {
      error: { code: error.code, message: redact(error.message), details: error.details },
    };
    if (error.details.outcome === "unknown") body.outcome = "unknown";
    const retryAfter = error.details.retryAfterSeconds;
    return {
      statusCode: DESK_STATUS[error.code] ?? 500,
      body,
      ...(typeof retryAfter === "number" && { retryAfterSeconds: retryAfter }),
    };
  }
  if (error instanceof UnauthorizedError) {
    return envelope("unauthorized", error.answer);
  }
  if (error instanceof InvalidCursorError) {
    return envelope("invalid_request", "invalid request: cursor is not one this API issued", {
      fields: { cursor: "is not one this API issued" },
    });
  }
  if (error instanceof BillmgrVendorError) {
    const [, code] = VENDOR[error.type] ?? [502, "upstream_error"];
    // The vendor's own words for a refusal; never for a login failure, which could only confuse callers.
    const message =
      error.type === "auth" ? "the vendor refused our credentials" : redact(error.vendorMessage);
    return envelope(code, message, { vendorType: error.type, vendorObject: error.object ?? null });
  }
  if (error instanceof BillmgrThrottledError) {
    // A 429 refused the call at the door; a 503 may come after the vendor acted (money calls never get
    // here for that: the desk makes them outcome_unknown), so only the first says nothing happened.
    const message =
      error.outcome === "not_applied"
        ? "the vendor is throttling our calls; nothing was carried out: retry after Retry-After"
        : "the vendor is overloaded and answered 503: retry after Retry-After";
    return {
      ...envelope("upstream_throttled", message, { outcome: error.outcome }),
      retryAfterSeconds: Math.max(1, Math.ceil((error.retryAfterMs ?? 1000) / 1000)),
    };
  }
  if (error instanceof BillmgrTimeoutError) {
    return envelope("upstream_timeout", "the vendor did not answer in time", { outcome: error.outcome });
  }
  if (error instanceof BillmgrCredentialsError) {
    return envelope(
      "upstream_unavailable",
      "the vendor's credentials could not be read from the secret store, so nothing was sent to the vendor: retry later",
      { outcome: error.outcome },
    );
  }
  if (error instanceof BillmgrError) {
    return envelope("upstream_unavailable", "the vendor could not be reached or gave no usable answer", {
      outcome: error.outcome,
    });
  }
  return envelope("internal_error", "an internal error occurred; it has been logged");
}

/** The envelope of one code, its status from the one table of statuses below. */
function envelope(code: string, message: string, details: Record<string, unknown> = {}): ErrorReply {
  return { statusCode: CODE_STATUS[code] ?? 500, body: { error: { code, message, details } } };
}

/** The codes answered outside the desk's and the vendor's maps. */
const FIXED_STATUS: Record<string, number> = {
  unauthorized: 401,
  upstream_error: 502,
  upstream_throttled: 503,
  upstream_timeout: 504,
  upstream_unavailable: 502,
  internal_error: 500,
  // Settled on evidence as never carried out (`shared/domain/licences/outcome-model.ts`, `notApplied`).
  order_not_placed: 409,
  renewal_not_applied: 409,
  product_change_not_applied: 409,
};

/** The status each `code` is answered with: the one table `errorReply` and the OpenAPI document read. */
export const CODE_STATUS: Readonly<Record<string, number>> = {
  ...Object.fromEntries(Object.values(VENDOR).map(([status, code]) => [code, status])),
  ...DESK_STATUS,
  ...FIXED_STATUS,
};

/** Every `code` the API answers with, for docs/api.md and the OpenAPI document. */
export const ERROR_CODES: readonly string[] = Object.keys(CODE_STATUS);

/**
 * A money call's answer as HTTP: applied is `success` (201 for an order, 200 for a renewal) with the
 * licence; not applied is its refusal's status, in the one envelope. The first answer and every replay
 * of it go through here, so a client always reads the same.
 */
export function moneyAnswerReply(
  answer: MoneyAnswer,
  success: number,
): { statusCode: number; body: unknown } {
  if (answer.outcome === "applied") return { statusCode: success, body: answer.licence };
  return { statusCode: CODE_STATUS[answer.refusal.code] ?? 409, body: { error: answer.refusal } };
}

/** An order's success status, or a renewal's. */
export const MONEY_SUCCESS = { order: 201, successor: 201, renew: 200, changeProduct: 200 } as const;
