import { toIsoDate } from "../dates.ts";
import type { IntentRef } from "../register/types.ts";
import type { Alert } from "../watcher/alerts.ts";

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
      "The licence is now in the register. The client that ordered it receives it (201) when it retries",
      "with the same Idempotency-Key. If the client ordered again with a new key meanwhile, it holds two",
      `licences: check the register for its IP and delete the one not wanted (DELETE /licenses/${licenceId}).`,
    ].join("\n"),
    licenceId,
    night: toIsoDate(at),
    ledger: { subject: `intent:${ref.scope}:${ref.key}`, threshold: "settled" },
  };
}
