import { redact } from "../../redact.ts";

/** Whether the vendor may have acted on a call that failed. */
export type Outcome = "not_applied" | "unknown";

/** Everything the billing client throws is one of these. */
export abstract class BillmgrError extends Error {
  abstract readonly kind: "vendor" | "unavailable" | "timeout" | "throttled";
  /** Whether the vendor may have acted despite the error. */
  abstract readonly outcome: Outcome;
  constructor(
    message: string,
    readonly func: string,
    options?: { cause?: unknown },
  ) {
    super(redact(message), options);
  }
}

/**
 * The vendor answered with `<error>`: it refused the call, so nothing was done.
 * `type` is the vendor's own word (auth, value, missed, exists, access, …).
 */
export class BillmgrVendorError extends BillmgrError {
  readonly kind = "vendor";
  readonly outcome: Outcome = "not_applied";
  override readonly name = "BillmgrVendorError";
  constructor(
    func: string,
    readonly type: string,
    readonly object: string | undefined,
    readonly vendorMessage: string,
  ) {
    const text = redact(vendorMessage);
    super(`billmgr ${func}: ${type}${object ? ` (${object})` : ""}: ${text}`, func);
    this.vendorMessage = text;
  }
}

/**
 * No usable answer: connection refused or reset, a 5xx, an HTML page, a body that is
 * not the vendor's document. `outcome` is "unknown" when the request may have reached
 * the vendor, which matters for calls that move money.
 */
export class BillmgrUnavailableError extends BillmgrError {
  readonly kind = "unavailable";
  override readonly name: string = "BillmgrUnavailableError";
  constructor(
    func: string,
    message: string,
    readonly outcome: Outcome,
    options?: { cause?: unknown; status?: number },
  ) {
    super(`billmgr ${func}: ${message}`, func, options);
    this.status = options?.status;
  }
  readonly status: number | undefined;
}

/**
 * The vendor credentials could not be read (the secret store failed or throttled): nothing was sent,
 * whatever the call was. Not the vendor's fault, and not a money call's unknown outcome.
 */
export class BillmgrCredentialsError extends BillmgrUnavailableError {
  override readonly name = "BillmgrCredentialsError";
  constructor(func: string, options: { cause: unknown }) {
    const cause = options.cause instanceof Error ? options.cause.name : "error";
    super(
      func,
      `the vendor credentials could not be read (${cause}); nothing was sent`,
      "not_applied",
      options,
    );
  }
}

/**
 * No answer within the time the call had: `BILLMGR_TIMEOUT_MS` for the whole attempt (connect, send and the
 * full answer), or less when the caller's deadline came first. `outcome` is "not_applied" when the request
 * was never written (the deadline had passed, or the connection was not yet made); otherwise "unknown".
 */
export class BillmgrTimeoutError extends BillmgrError {
  readonly kind = "timeout";
  override readonly name = "BillmgrTimeoutError";
  constructor(
    func: string,
    readonly timeoutMs: number,
    readonly outcome: Outcome,
    options?: { cause?: unknown; detail?: string },
  ) {
    super(`billmgr ${func}: ${options?.detail ?? `no answer within ${timeoutMs} ms`}`, func, options);
  }
}

/**
 * The vendor or a proxy in front of it asked us to slow down: HTTP 429, or 503 with `Retry-After`.
 * A 429 is a refusal before acting ("not_applied"); a 503 may come from a backend that was already
 * working on the call ("unknown"). `retryAfterMs` is the wait it asked for, when it said.
 */
export class BillmgrThrottledError extends BillmgrError {
  readonly kind = "throttled";
  override readonly name = "BillmgrThrottledError";
  constructor(
    func: string,
    readonly status: number,
    readonly retryAfterMs: number | undefined,
    readonly outcome: Outcome,
    options?: { cause?: unknown },
  ) {
    const wait = retryAfterMs === undefined ? "" : `, retry after ${retryAfterMs} ms`;
    super(`billmgr ${func}: throttled (HTTP ${status}${wait})`, func, options);
  }
}
