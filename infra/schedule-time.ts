/**
 * Whether a daily cron schedule's time of day exists on every day in its time zone. On the night the
 * clocks spring forward, a local time inside the skipped hour (02:00-02:59 in Europe/Berlin and the US
 * zones) never happens, and EventBridge Scheduler runs nothing that night: the watcher would miss a
 * whole night. The first such day in the coming years, or undefined where every day has the time.
 */
export function skippedDay(
  expression: string,
  timeZone: string,
  years = 3,
  from = new Date(),
): string | undefined {
  const fields = /^cron\((.+)\)$/.exec(expression.trim())?.[1]?.trim().split(/\s+/);
  if (fields?.length !== 6) return undefined; // rate(...) has no time of day
  const minutes = numbers(fields[0] as string, 59);
  const hours = numbers(fields[1] as string, 23);
  if (!minutes || !hours) return undefined; // ranges and steps: not a time of day to check
  const start = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
  for (let day = 0; day < years * 366; day++) {
    const date = new Date(start + day * 86_400_000).toISOString().slice(0, 10);
    for (const hour of hours)
      for (const minute of minutes)
        if (!exists(date, hour, minute, timeZone)) return `${date} ${pad(hour)}:${pad(minute)}`;
  }
  return undefined;
}

/** "0", "5,35" as numbers; undefined for anything else ("*", "0/15", "1-5"). */
function numbers(field: string, max: number): number[] | undefined {
  if (!/^\d{1,2}(,\d{1,2})*$/.test(field)) return undefined;
  const values = field.split(",").map(Number);
  return values.every((v) => v <= max) ? values : undefined;
}

const pad = (n: number) => String(n).padStart(2, "0");

const formats = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock reading of an instant in a zone, as epoch ms of that reading taken as UTC. */
function wallClock(instant: number, timeZone: string): number {
  let format = formats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    formats.set(timeZone, format);
  }
  const parts = format.formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? "0");
  return Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"));
}

/**
 * Whether some instant reads `date hour:minute` on the zone's clocks. The zone's offset that day is the
 * one before or the one after any change, so the two offsets of the neighbouring days are all to try.
 */
function exists(date: string, hour: number, minute: number, timeZone: string): boolean {
  const wanted = Date.parse(`${date}T${pad(hour)}:${pad(minute)}:00Z`);
  const offsets = [-86_400_000, 86_400_000].map(
    (shift) => wallClock(wanted + shift, timeZone) - (wanted + shift),
  );
  return offsets.some((offset) => wallClock(wanted - offset, timeZone) === wanted);
}
