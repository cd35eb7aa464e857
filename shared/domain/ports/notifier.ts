import type { IsoDate } from "../dates.ts";

/** Every kind of mail the desk sends staff. */
export type AlertKind =
  | "expiry"
  | "expired"
  | "cannot_renew"
  | "renewal_failed"
  | "renewal_unknown"
  | "renewal_blocked"
  | "vendor_suspended"
  | "vendor_deleted"
  | "licence_retired"
  | "retire_held"
  | "successor_ordered"
  | "successor_failed"
  | "balance_covered"
  | "renewal_recovered"
  | "still_down"
  | "lifecycle"
  | "low_balance"
  | "sync_failed"
  | "vendor_unreachable"
  | "order_settled"
  | "outcome_stale"
  | "outcome_undecided"
  | "summary";

export type Severity = "info" | "warning" | "critical";

/** One e-mail to staff. `subject`, `kind` and `threshold` together name it in the ledger: it goes out once. */
export interface Alert {
  kind: AlertKind;
  severity: Severity;
  /** At most 99 characters: SNS's limit, and what an inbox shows. */
  title: string;
  body: string;
  licenceId: string | undefined;
  night: IsoDate;
  ledger: { subject: string; threshold: string };
  /** What to do about this one licence, in one line: a digest lists it beside the licence. */
  action?: string;
  /** A digest: the ledger entries (`subject|kind|threshold`) it carries, each sent once. */
  covers?: string[];
  /**
   * One product's news of one date: alerts of one group pending together go out as one mail, headed
   * `subject` and opened by `lead`, each licence in a few lines of its own.
   */
  group?: { key: string; subject: string; lead: string };
  /** A reminder the night's summary carries in a section of its own, when that summary goes out with it. */
  foldable?: boolean;
  /** What a summary or digest says beside the heading, before what to do: when it ends, for one. */
  note?: string;
}

/** Where alerts go: SNS e-mail in AWS, a local outbox file on a laptop, an array in tests. */
export interface Notifier {
  send(alert: Alert): Promise<void>;
}
