import type { AlertLedger } from "./alert-ledger.ts";
import type { AuditLog } from "./audit-log.ts";
import type { IdempotencyStore } from "./intent-store.ts";
import type { LicenceStore } from "./licence-store.ts";
import type { NightLedger } from "./night-ledger.ts";

/** The register: everything the API and the watcher keep in DynamoDB. */
export interface Register {
  licences: LicenceStore;
  audit: AuditLog;
  idempotency: IdempotencyStore;
  alerts: AlertLedger;
  nights: NightLedger;
}
