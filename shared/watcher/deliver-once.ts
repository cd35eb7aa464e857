import type { AlertLedger } from "../register/types.ts";
import type { Alert } from "./alerts.ts";
import { ledgerText, pendingOf, recordAlerts, sendPending } from "./delivery.ts";
import type { Notifier } from "./notifier.ts";

/**
 * Alerts raised outside a night (the reconciler's): recorded as pending first, then sent through the
 * same ledger as the night's alerts, so each goes out once, and one whose send failed (or whose run
 * died) is sent by the next pass or night.
 */
export async function deliverOnce(
  ledger: AlertLedger,
  notifier: Notifier,
  alerts: readonly Alert[],
): Promise<{ sent: number; undelivered: number }> {
  if (alerts.length === 0) return { sent: 0, undelivered: 0 };
  await recordAlerts(
    ledger,
    alerts.map((alert) => pendingOf(alert)),
  );
  const result = await sendPending({
    ledger,
    notifier,
    leaseMs: 60_000,
    // A reconciler pass raises few alerts, each about one money call: never merged into a digest.
    digestMin: Number.POSITIVE_INFINITY,
    nowMs: () => Date.now(),
    only: new Set(alerts.map(ledgerText)),
  });
  return { sent: result.sent.length, undelivered: result.undelivered };
}
