import { type FieldErrors, fieldErrors } from "./inputs.ts";

/**
 * What the licence desk refuses or cannot do, each with a stable code. The HTTP layer maps
 * these (and the billing client's errors) to statuses in one place.
 */
export abstract class DeskError extends Error {
  abstract readonly code: string;
  readonly details: Record<string, unknown> = {};
}

export class ValidationError extends DeskError {
  readonly code = "invalid_request";
  override readonly name = "ValidationError";
  readonly fields: FieldErrors;
  constructor(fields: FieldErrors) {
    const named = fieldErrors(Object.entries(fields));
    const problems = Object.entries(named);
    // A refusal that names nothing tells the client nothing to fix: that is a bug here, not their request.
    if (problems.length === 0) throw new Error("a ValidationError must name at least one field");
    super(`invalid request: ${problems.map(([f, m]) => `${f} ${m}`).join("; ")}`);
    this.fields = named;
    this.details.fields = named;
  }
}

export class NotFoundError extends DeskError {
  readonly code = "not_found";
  override readonly name = "NotFoundError";
  constructor(what: string) {
    super(`${what} not found`);
  }
}

/** The product's vendor lifecycle forbids the operation on this date; nothing was sent. */
export class LifecycleClosedError extends DeskError {
  readonly code: "lifecycle_closed" | "already_at_cap" = "lifecycle_closed";
  override readonly name: string = "LifecycleClosedError";
  constructor(product: string, operation: "order" | "renew", closedOn: string, today: string) {
    super(
      `${product}: ${operation === "order" ? "sales" : "renewals"} closed on ${closedOn} (today is ${today})`,
    );
    Object.assign(this.details, { product, operation, closedOn, today });
  }
}

/**
 * A renewal that could not extend the licence: it already runs to the last day its product may run
 * (ISPmanager 5: 2021-12-31), so the vendor would refuse it. Its own code, because the client's next step
 * differs from a closed lifecycle: nothing to retry, the licence is as long as it can be. Still a
 * lifecycle refusal, so whoever handles those (the watcher's cannot-renew alert) handles this one too.
 */
export class AlreadyAtCapError extends LifecycleClosedError {
  override readonly code = "already_at_cap";
  override readonly name = "AlreadyAtCapError";
  constructor(
    product: { id: string; title: string },
    licenceId: string,
    expiresOn: string,
    cap: string,
    today: string,
  ) {
    super(product.id, "renew", cap, today);
    const reach =
      expiresOn === cap
        ? `already runs to the last day ${product.title} allows (${cap})`
        : `already runs to ${expiresOn}, past the last day a renewal of ${product.title} may reach (${cap})`;
    this.message = `licence ${licenceId} ${reach}: a renewal cannot extend it; nothing was sent or charged`;
    delete this.details.closedOn;
    Object.assign(this.details, { licenceId, expiresOn, cap, outcome: "not_applied" });
  }
}

export class IdempotencyKeyReusedError extends DeskError {
  readonly code = "idempotency_key_reused";
  override readonly name = "IdempotencyKeyReusedError";
  constructor() {
    super("this Idempotency-Key was used for a different request");
  }
}

export class RequestInProgressError extends DeskError {
  readonly code = "request_in_progress";
  override readonly name = "RequestInProgressError";
  constructor(readonly retryAfterSeconds: number) {
    super(
      `the first request with this Idempotency-Key is still running; retry with the same key in ${retryAfterSeconds} s`,
    );
    this.details.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * A money-moving call was sent and its answer never came: the vendor may have carried it out, now or
 * later. A retry with the same key after the settle window learns the outcome; it is never sent again.
 */
export class OutcomeUnknownError extends DeskError {
  readonly code = "outcome_unknown";
  override readonly name = "OutcomeUnknownError";
  constructor(
    operation: string,
    readonly retryAfterSeconds: number,
    options: { cause: unknown },
  ) {
    super(
      `${operation}: the vendor did not answer after the request was sent, so it may have been carried out. ` +
        `Retry with the same Idempotency-Key in ${retryAfterSeconds} s to learn the outcome (it will not be sent again); ` +
        "do not use a new key, which could pay twice",
      options,
    );
    Object.assign(this.details, { outcome: "unknown", retryAfterSeconds });
  }
}

/**
 * A sent money call whose outcome is not known yet: the vendor may still apply it. Nothing is decided
 * before the settle window has passed; the client retries with the same key after `retryAfterSeconds`.
 */
export class OutcomePendingError extends DeskError {
  readonly code = "outcome_pending";
  override readonly name = "OutcomePendingError";
  constructor(
    operation: string,
    readonly retryAfterSeconds: number,
    /** Why the evidence could not decide yet (after the settle window). */
    reason?: string,
  ) {
    super(
      `${operation}: the vendor has not confirmed whether it carried out the request; it may still do so` +
        `${reason ? ` (${reason})` : ""}. Retry with the same Idempotency-Key in ${retryAfterSeconds} s; ` +
        "do not use a new key, which could pay twice",
    );
    Object.assign(this.details, { outcome: "unknown", retryAfterSeconds });
  }
}

/** An operator's verdict on a money call that is settled already: nothing changed. */
export class OutcomeSettledError extends DeskError {
  readonly code = "outcome_settled";
  override readonly name = "OutcomeSettledError";
  constructor(key: string, outcome: "applied" | "not_applied" | undefined) {
    super(
      outcome === "applied"
        ? `money call ${key}: the vendor carried it out, so it stays applied; nothing was changed`
        : `money call ${key} is settled already (${outcome ?? "answered"}); nothing was changed`,
    );
    Object.assign(this.details, { key, outcome: outcome ?? null });
  }
}

/** A route for operators only (`OPERATOR_CLIENTS`), asked by another client. */
export class ForbiddenError extends DeskError {
  readonly code = "forbidden";
  override readonly name = "ForbiddenError";
  constructor(client: string) {
    super(
      `client "${client}" may not list or settle money outcomes: only the clients named in OPERATOR_CLIENTS may`,
    );
  }
}

/** Another renewal of this licence is in flight (API or watcher): one at a time, so none is mistaken for another. */
export class RenewalInFlightError extends DeskError {
  readonly code = "renewal_in_flight";
  override readonly name = "RenewalInFlightError";
  /** `doing`: what was refused; a suspend waits for the renewal, which would otherwise undo it. */
  constructor(licenceId: string, doing: "renew" | "suspend" | "change-product" = "renew") {
    super(
      doing === "renew"
        ? `licence ${licenceId}: another renewal or change of product of this licence is in flight or awaits its outcome; nothing was sent. ` +
            "Check the licence's expiry later before renewing again"
        : doing === "suspend"
          ? `licence ${licenceId}: a renewal of this licence is in flight or awaits its outcome, and it would undo a suspend; nothing was sent. ` +
            "Suspend it again once the renewal is done"
          : `licence ${licenceId}: a renewal, change of product or suspend of this licence is in flight or awaits its outcome; nothing was sent. ` +
            "Check the licence's product later (GET /licenses/{id}?refresh=true) before changing it again",
    );
    Object.assign(this.details, { licenceId, outcome: "not_applied" });
  }
}

/**
 * Why the watcher's renewal was not sent after all: switched off or suspended through the desk, or the
 * vendor's own form, read right before sending, showed it renewed elsewhere, suspended before its
 * expiry, or deleted.
 */
export type NotWantedReason =
  | "switched_off"
  | "suspended_by_desk"
  | "being_suspended"
  | "renewed_elsewhere"
  | "suspended_at_vendor"
  | "deleted_at_vendor"
  | "succeeded";

/**
 * Another order for the same IP and product line is in flight or awaits its outcome: one at a time, so
 * an unanswered order's evidence (a new licence on that IP) can only be its own. Nothing was sent.
 */
export class OrderInFlightError extends DeskError {
  readonly code = "order_in_flight";
  override readonly name = "OrderInFlightError";
  constructor(ip: string) {
    super(
      `another order for ${ip} is in flight or awaits its outcome; nothing was sent or charged. ` +
        `That order may place the licence you want: check GET /licenses for a licence on ${ip} before ordering again`,
    );
    Object.assign(this.details, { ip, outcome: "not_applied" });
  }
}

/** The licence desk's operations for the watcher: a licence no longer set to renew is not renewed. */
export class RenewalNotWantedError extends DeskError {
  readonly code = "renewal_not_wanted";
  override readonly name = "RenewalNotWantedError";
  constructor(
    licenceId: string,
    why: string,
    readonly reason: NotWantedReason,
  ) {
    super(`licence ${licenceId}: not renewed, ${why}; nothing was sent`);
    Object.assign(this.details, { licenceId, outcome: "not_applied" });
  }
}

/** Too little of the request's time is left to send a money call and learn its answer: nothing was sent. */
export class DeadlineNearError extends DeskError {
  readonly code = "deadline_near";
  override readonly name = "DeadlineNearError";
  constructor(operation: string) {
    super(
      `${operation}: too little time was left in this request to send it safely; nothing was sent or charged. ` +
        "Retry with the same Idempotency-Key",
    );
    Object.assign(this.details, { outcome: "not_applied", retryAfterSeconds: 1 });
  }
}

/**
 * Why the licence cannot be moved as asked, to a successor or another tariff, in its present state; nothing
 * was sent.
 */
export class LicenceStateRefusedError extends DeskError {
  override readonly name = "LicenceStateRefusedError";
  constructor(
    readonly code: "successor_exists" | "licence_deleted" | "product_unchanged",
    message: string,
    details: Record<string, unknown>,
  ) {
    super(message);
    Object.assign(this.details, details, { outcome: "not_applied" });
  }
}

/**
 * A successor placed and charged, whose predecessor the desk could not mark yet: the call stays applied
 * and open, and a retry with the same key (or the reconciler) finishes it. Nothing is sent again.
 */
export class SuccessorNotLinkedError extends DeskError {
  readonly code = "outcome_pending";
  override readonly name = "SuccessorNotLinkedError";
  readonly retryAfterSeconds = 60;
  constructor(licenceId: string, successorId: string) {
    super(
      `the successor of licence ${licenceId}, licence ${successorId}, was placed and charged, but the register could not record the link yet. Retry with the same Idempotency-Key in 60 s for the answer (nothing is sent or charged again); do not use a new key, which would pay twice`,
    );
    Object.assign(this.details, { licenceId, successorId, outcome: "applied", retryAfterSeconds: 60 });
  }
}
