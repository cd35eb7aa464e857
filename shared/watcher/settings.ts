import type { WatcherConfig } from "../config.ts";
import type { WatcherSettings } from "./night-types.ts";

/** A run sending an alert holds it this long against another run: a send takes well under a second. */
const SEND_LEASE_MS = 30_000;

/** The watcher's settings from its configuration (environment variables, with their defaults). */
export function watcherSettings(config: WatcherConfig): WatcherSettings {
  return {
    renewalLeadDays: config.RENEWAL_LEAD_DAYS,
    earlyRenewalDays: config.EARLY_RENEWAL_DAYS,
    expiryAlertDays: config.EXPIRY_ALERT_DAYS,
    lifecycleAlertDays: config.LIFECYCLE_ALERT_DAYS,
    balanceForecastDays: config.BALANCE_FORECAST_DAYS,
    expiringSoonDays: config.EXPIRING_SOON_DAYS,
    vendorConcurrency: config.VENDOR_CONCURRENCY,
    registerConcurrency: config.REGISTER_CONCURRENCY,
    digestMin: config.ALERT_DIGEST_MIN,
    sendLeaseMs: SEND_LEASE_MS,
  };
}
