import { licenceDesk } from "../../licences/desk.ts";
import { WATCHER_CLIENT } from "../../licences/idempotency-settings.ts";
import type { NightRun } from "./run.ts";

/** The desk as the watcher calls it tonight: its own client, the run's clock and the night's date. */
export function watcherDesk(run: NightRun): ReturnType<typeof licenceDesk> {
  const { deps } = run;
  return licenceDesk(
    {
      billing: deps.billing,
      register: deps.register,
      catalogue: deps.catalogue,
      idempotency: deps.idempotency,
      nowMs: run.nowMs,
    },
    // The night's date in the schedule's zone decides the desk's lifecycle checks too, not the UTC date.
    { client: WATCHER_CLIENT, now: run.at, today: run.night },
  );
}
