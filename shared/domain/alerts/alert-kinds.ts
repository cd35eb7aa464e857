import type { AlertKind } from "../ports/notifier.ts";

/** What each kind of alert is called where people read it (summaries, digests). */
export const KIND_NAMES: Record<AlertKind, string> = {
  expiry: "expiring soon",
  expired: "expired",
  cannot_renew: "cannot be renewed",
  renewal_failed: "renewal failed",
  renewal_recovered: "renewed after a failed renewal",
  renewal_unknown: "renewal outcome unknown",
  renewal_blocked: "cannot be renewed automatically",
  vendor_suspended: "suspended by the vendor",
  still_down: "still down a week on",
  vendor_deleted: "deleted or gone at the vendor",
  licence_retired: "retired after its successor",
  retire_held: "not retired: its successor does not run",
  successor_ordered: "planned successor ordered",
  successor_failed: "planned successor not ordered",
  lifecycle: "product lifecycle dates",
  low_balance: "balance too low",
  balance_covered: "balance covers what is due again",
  sync_failed: "could not be read from the vendor",
  vendor_unreachable: "vendor unreachable",
  order_settled: "order outcome settled",
  outcome_stale: "money outcome still unknown",
  outcome_undecided: "money outcome for staff to settle",
  summary: "nightly summary",
};
