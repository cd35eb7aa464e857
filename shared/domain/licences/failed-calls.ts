import { BillmgrError, BillmgrTimeoutError, BillmgrVendorError } from "../ports/billing-errors.ts";

/**
 * What a failed vendor call did, in the domain's words. This is the one place the money rules look at
 * the billing client's errors: the rest of the domain decides on these three words.
 * - refused: the vendor answered with its `<error>`: nothing happened.
 * - not_sent: provably never reached the vendor (refused to connect, throttled at the door, no time left).
 * - unknown: it may have been carried out.
 */
export type FailedCall = "refused" | "not_sent" | "unknown";

export function failedCall(error: unknown): FailedCall {
  if (error instanceof BillmgrVendorError) return "refused";
  if (error instanceof BillmgrError) return error.outcome === "not_applied" ? "not_sent" : "unknown";
  // Anything else (a bug, a register failure) after the call was sent cannot prove it was not applied.
  return "unknown";
}

/** The vendor's own words for a refusal, for alerts and summaries. */
export function refusalReason(error: unknown): string | undefined {
  return error instanceof BillmgrVendorError ? error.vendorMessage : undefined;
}

/** How the audit trail names a failed call. */
export function auditOutcome(
  error: unknown,
): ["vendor_error" | "unknown" | "timeout" | "unavailable", string] {
  if (error instanceof BillmgrVendorError) return ["vendor_error", error.type];
  if (error instanceof BillmgrError && error.outcome === "unknown") return ["unknown", error.kind];
  if (error instanceof BillmgrTimeoutError) return ["timeout", error.kind];
  return ["unavailable", error instanceof BillmgrError ? error.kind : "internal"];
}

/** The vendor's `missed`: it does not know the licence (one it deleted, for one). */
export const isMissed = (error: unknown): boolean =>
  error instanceof BillmgrVendorError && error.type === "missed";
