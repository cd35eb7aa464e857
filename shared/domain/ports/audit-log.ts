export type AuditOutcome = "ok" | "vendor_error" | "unavailable" | "timeout" | "unknown" | "refused";

/** One vendor call (or a refusal before any), as the audit trail keeps it. Never a secret. */
export interface AuditEntry {
  /** ISO instant. */
  at: string;
  /** The API client's name, or `watcher`. */
  client: string;
  /** Our operation name (`order`, `renew`, …). */
  operation: string;
  licenceId: string | undefined;
  /** What was asked, as the caller gave it (never credentials). */
  params: Record<string, string | number | boolean | null>;
  outcome: AuditOutcome;
  /** The vendor's error type, or our error code. */
  error: string | undefined;
  durationMs: number;
}

export interface AuditLog {
  record(entry: AuditEntry): Promise<void>;
  /** Newest first. */
  forLicence(licenceId: string, limit: number): Promise<AuditEntry[]>;
}
