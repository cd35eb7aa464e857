import { daysBetween, type IsoDate } from "../../dates.ts";
import type { LicenceRecord } from "../../ports/licence-store.ts";
import { nearestThreshold } from "../../renewal/renewal-rules.ts";
import type { WatcherSettings } from "../night-types.ts";

type Settings = Pick<WatcherSettings, "expiryAlertDays" | "expiringSoonDays" | "summaryMails">;

/**
 * The expiry distance a licence new to the register stood at on the night the sync added it, when that
 * night's summary told it: the summary of a night with new licences is always mailed (unless only weekly
 * summaries are), and lists every licence expiring within `expiringSoonDays` with its fate. That list is
 * the new licence's expiry warning, so no mail of its own is recorded, leased and sent for it, that night
 * or later at the same distance: a first import of 10,000 licences would otherwise make 500 of each.
 * Undefined when the licence was not added by a sync, or that summary does not tell it.
 */
export function arrivalThreshold(licence: LicenceRecord, settings: Settings): number | undefined {
  const added = licence.syncAddedOn;
  const expiresOn = licence.expiresOn;
  if (added === undefined || expiresOn === undefined || settings.summaryMails === "weekly") return undefined;
  if (daysBetween(added, expiresOn) > settings.expiringSoonDays) return undefined;
  return nearestThreshold(expiresOn, added, settings.expiryAlertDays);
}

/** Whether tonight's expiry warning of a licence (at `threshold`) was told by the summary of the night it arrived. */
export function toldOnArrival(
  licence: LicenceRecord,
  threshold: number,
  settings: Settings,
  night: IsoDate,
): boolean {
  return (
    licence.syncAddedOn !== undefined &&
    licence.syncAddedOn <= night &&
    arrivalThreshold(licence, settings) === threshold
  );
}
