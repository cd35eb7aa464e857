import { toIsoDate } from "../dates.ts";
import type { IdempotencyRecord, IntentRef } from "../ports/intent-store.ts";
import { api, howLines, months, splitCalls } from "../wording.ts";
import type { Alert } from "./alerts.ts";

/**
 * "An unanswered order was placed after all": one alert per intent (its ledger key names the intent),
 * recorded as pending by the order when the evidence settles it, and sent by the reconciler's pass or
 * the next night, whichever comes first.
 */
export function orderSettled(ref: IntentRef, licenceId: string, at: Date): Alert {
  return {
    kind: "order_settled",
    severity: "warning",
    title: `[licence desk] Unanswered order settled as placed: licence ${licenceId}`,
    body: [
      "An order whose answer never reached the desk was placed by the vendor, and charged.",
      "",
      `Licence id:       ${licenceId}`,
      `Ordered by:       API client "${ref.scope}", Idempotency-Key ${ref.key}`,
      "",
      "The licence is now in the register. The client that ordered it receives it when it retries",
      "with the same Idempotency-Key. If the client ordered again with a new key meanwhile, it holds two",
      "licences: check the register for its IP and delete the one not wanted.",
      "",
      ...howLines(splitCalls(api.remove(licenceId)).calls),
    ].join("\n"),
    licenceId,
    night: toIsoDate(at),
    ledger: { subject: `intent:${ref.scope}:${ref.key}`, threshold: "settled" },
  };
}

/** What an intent's request asked for, in words. */
export function requestedCall(record: Pick<IdempotencyRecord, "operation" | "request">): string {
  const request = record.request as { id?: string; body?: Record<string, unknown> } | undefined;
  const body = request?.body ?? {};
  if (record.operation === "renew")
    return `renewal of licence ${request?.id} for ${months(Number(body.period))}`;
  if (record.operation === "change-product")
    return `change of licence ${request?.id} to ${String(body.product)}${body.nodes === undefined ? "" : ` with ${String(body.nodes)} nodes`}`;
  if (record.operation === "successor")
    return `order of a successor (${body.product === undefined ? "the catalogue's" : String(body.product)}, ${months(Number(body.period))}) to licence ${request?.id}, on its IP`;
  return `order of ${String(body.product)} for "${String(body.name)}" on ${String(body.ip)}`;
}

/**
 * "The evidence cannot decide this money call: a person must", at once, with the facts and the call
 * that settles it. One per intent (its ledger key names the intent), recorded before anyone else can
 * miss it, sent by the reconciler's pass or the next night.
 */
export function outcomeUndecided(
  record: IdempotencyRecord,
  evidence: { reason: string; facts?: Record<string, string> | undefined },
  at: Date,
): Alert {
  const facts = evidence.facts ?? {};
  // A renewal or a change of product holds its licence; an order (or a successor's) holds its IP's slot.
  const renewal = record.operation === "renew";
  const onLicence = renewal || record.operation === "change-product";
  const sentAt = record.sentAt === undefined ? "" : ` at ${new Date(record.sentAt).toISOString()}`;
  return {
    kind: "outcome_undecided",
    severity: "critical",
    title: `[licence desk] Settle by hand: ${record.operation} ${record.key}`.slice(0, 99),
    body: [
      `The ${requestedCall(record)} was sent to the vendor${sentAt}, its answer never came, and the vendor's records cannot tell whether it was carried out: ${evidence.reason}.`,
      "",
      ...(renewal
        ? [
            `Expiry before the renewal:       ${facts.before ?? "?"}`,
            `Expiry had the renewal applied:  ${facts.expected ?? "?"}`,
            `Expiry the vendor shows now:     ${facts.seen ?? "?"}`,
          ]
        : []),
      `API client: "${record.scope}", Idempotency-Key ${record.key}.`,
      "",
      ...(record.operation === "change-product"
        ? [
            `Tariff before the change (pricelist/nodes):  ${facts.before ?? "?"}`,
            `Tariff had it applied:                       ${facts.expected ?? "?"}`,
            `Tariff the vendor shows now:                 ${facts.seen ?? "?"}`,
          ]
        : []),
      onLicence
        ? "Until it is settled, the licence is held: no other renewal, change of product or suspend of it is sent, and its client's retries are told to wait."
        : "Until it is settled, no other order for this IP and product line is sent, and its client's retries are told to wait.",
      `What to do: in the vendor's panel, look at ${renewal ? `licence ${facts.licenceId ?? ""}'s expiry history` : onLicence ? `licence ${facts.licenceId ?? ""}'s tariff history` : "the licences on that IP"} and the account's charges since the call was sent. If this call was charged, settle it as applied${onLicence ? "" : ' (with "licenceId": the licence it placed)'}; if not, as not applied. The desk never sends it again.`,
      "",
      ...howLines(splitCalls(api.settle(record.scope, record.key)).calls),
    ].join("\n"),
    licenceId: onLicence ? facts.licenceId : undefined,
    night: toIsoDate(at),
    ledger: { subject: `intent:${record.scope}:${record.key}`, threshold: "undecided" },
  };
}
