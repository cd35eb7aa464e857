import { type AlertLedger, alertKeyText } from "../ports/alert-ledger.ts";
import type { Notifier } from "../ports/notifier.ts";
import type { Alert } from "./alerts.ts";
import { ledgerText, pendingOf, recordAlerts, sendPending } from "./send-pending.ts";

/** Alerts about one money call name its intent: `intent:<client>:<key>`. */
const MONEY_CALL = "intent:";

/**
 * Alerts raised outside a night (the reconciler's), and every money-call alert a desk request left
 * pending (an order settled on a client's retry, an outcome staff must settle): recorded as pending
 * first, then sent through the same ledger as the night's alerts, so each goes out once, and one whose
 * send failed (or whose run died) is sent by the next pass or night.
 */
export async function deliverOnce(
  ledger: AlertLedger,
  notifier: Notifier,
  alerts: readonly Alert[],
  /** The clock of the send leases: the desk's, so they agree with the night's on the same ledger. */
  nowMs: () => number = Date.now,
): Promise<{ sent: number; undelivered: number }> {
  await recordAlerts(
    ledger,
    alerts.map((alert) => pendingOf(alert)),
  );
  const moneyCalls = (await ledger.pending()).filter((p) => p.subject.startsWith(MONEY_CALL));
  if (alerts.length === 0 && moneyCalls.length === 0) return { sent: 0, undelivered: 0 };
  const result = await sendPending({
    ledger,
    notifier,
    leaseMs: 60_000,
    // A reconciler pass raises few alerts, each about one money call: never merged into a digest.
    digestMin: Number.POSITIVE_INFINITY,
    nowMs,
    only: new Set([...alerts.map(ledgerText), ...moneyCalls.map(alertKeyText)]),
  });
  return { sent: result.sent.length, undelivered: result.undelivered };
}
