/**
 * Calendar dates as the vendor writes them: `YYYY-MM-DD`, always UTC.
 * Strings compare correctly with < and >, so the domain keeps dates as strings.
 */
export type IsoDate = string;

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

export function isIsoDate(value: string): value is IsoDate {
  const m = ISO_DATE.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().startsWith(value);
}

/** The UTC calendar date of an instant. */
export function toIsoDate(instant: Date): IsoDate {
  return instant.toISOString().slice(0, 10);
}

/**
 * Reads a vendor date, tolerating a time part (`2021-06-16 00:00:00`) and the
 * all-zero "no date" value some billing installations write.
 */
export function parseVendorDate(value: string | undefined): IsoDate | undefined {
  if (!value) return undefined;
  const head = value.trim().slice(0, 10);
  return isIsoDate(head) ? head : undefined;
}

export function addDays(date: IsoDate, days: number): IsoDate {
  return toIsoDate(new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS));
}

/** Calendar months, clamped to the month's last day (2021-01-31 + 1 month = 2021-02-28). */
export function addMonths(date: IsoDate, months: number): IsoDate {
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  const first = new Date(Date.UTC(y, m - 1 + months, 1));
  const lastDay = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  first.setUTCDate(Math.min(d, lastDay));
  return toIsoDate(first);
}

/** Whole days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: IsoDate, to: IsoDate): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

/** `NOW`-style input: an ISO date or date-time, read as UTC unless it names its own offset. */
export function parseInstant(value: string): Date | undefined {
  const text = isIsoDate(value)
    ? `${value}T00:00:00Z`
    : /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value)
      ? `${value}Z`
      : value;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
