import type { WatcherResult } from "../functions/watcher.ts";
import { months } from "../shared/domain/wording.ts";

/** A night's result as a person reads it. */
export function printNight(result: WatcherResult): void {
  const s = result.sync;
  console.log(
    `  sync: ${s.listed} listed, ${s.added} new, ${s.updated} changed, ${s.gone} gone, ${s.unchanged} unchanged (${result.syncWrites} licence writes)`,
  );
  for (const r of result.renewed)
    console.log(`  renewed ${r.name} (id ${r.id}): ${r.from} -> ${r.to} (${months(r.period)}, ${r.reason})`);
  for (const f of result.failed) console.log(`  FAILED ${f.name} (id ${f.id}): ${f.reason}`);
  for (const u of result.unknown) console.log(`  UNKNOWN ${u.name} (id ${u.id}): reconciled next run`);
  const f = result.forms;
  if (f.due > 0 || f.left > 0)
    console.log(
      `  forms: ${f.read} of ${f.due} due read (${f.failed} failed); ${f.left} left${f.stopped ? `: ${f.throttled ? "the vendor throttled the reads" : "the run's time ran out"}, run it again (or let the next run) to carry on` : ""}`,
    );
  console.log(
    `  alerts sent: ${result.alertsSent} (${result.alreadySent} already sent before); expiring within 30 days: ${result.expiringSoon}`,
  );
}
