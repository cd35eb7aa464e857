import { readFileSync } from "node:fs";
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { IsoDate } from "../shared/domain/dates.ts";
import type { NightReport, WatcherDeps } from "../shared/domain/night/night.ts";
import { alertPhase } from "../shared/domain/night/phases/alert.ts";
import { decidePhase, forecastPhase } from "../shared/domain/night/phases/decide.ts";
import { formsPhase } from "../shared/domain/night/phases/forms.ts";
import { listPhase } from "../shared/domain/night/phases/list.ts";
import { renewPhase } from "../shared/domain/night/phases/renew.ts";
import { forgetLostSuccessors, retirePhase } from "../shared/domain/night/phases/retire.ts";
import { nightRun } from "../shared/domain/night/phases/run.ts";
import { sendPhase } from "../shared/domain/night/phases/send.ts";
import { successorPhase } from "../shared/domain/night/phases/successors.ts";
import { summaryPhase } from "../shared/domain/night/phases/summary.ts";
import { syncPhase } from "../shared/domain/night/phases/sync.ts";

/** The parts of a night the bench times, in `runNight`'s order. */
export const PHASES = [
  "list",
  "sync",
  "decide",
  "renew",
  "successors+retire",
  "forecast",
  "alerts",
  "forms",
  "summary+send",
] as const;
export type Phase = (typeof PHASES)[number];

/** What `runNight` calls, in order (`shared/domain/night/night.ts`); `timedNight` calls the same. */
const RUN_NIGHT_CALLS = [
  "nightRun",
  "reconcileFirst",
  "listPhase",
  "syncPhase",
  "forgetLostSuccessors",
  "decidePhase",
  "renewPhase",
  "successorPhase",
  "retirePhase",
  "forecastPhase",
  "alertPhase",
  "formsPhase",
  "summaryPhase",
  "sendPhase",
];

/**
 * Fails when `runNight` no longer calls the phases `timedNight` calls, in that order: the bench would
 * time another night than the watcher's.
 */
export function checkRunNightUnchanged(): void {
  const source = readFileSync(new URL("../shared/domain/night/night.ts", import.meta.url), "utf8");
  const body = /export async function runNight\([\s\S]*?\n}\n/.exec(source)?.[0] ?? "";
  const calls = [...body.matchAll(/(?:await |= )(\w+)\(/g)].map((m) => m[1]);
  if (calls.join(",") !== RUN_NIGHT_CALLS.join(",")) {
    throw new Error(
      `runNight's phases changed (now ${calls.join(", ")}): update bench/timed-night.ts to call them as runNight does`,
    );
  }
}

/**
 * `runNight`, phase by phase as it runs them, with `mark` called as each part begins (and with "end"):
 * the same calls on the same deps, so the night is the watcher's and only the timestamps are added.
 */
export async function timedNight(
  deps: WatcherDeps,
  night: IsoDate,
  at: Date,
  mark: (phase: Phase | "end") => void,
): Promise<NightReport> {
  const run = nightRun(deps, night, at);
  if (deps.reconcile) await deps.reconcile(at).catch(() => undefined);
  mark("list");
  const listed = await listPhase(run);
  mark("sync");
  const { records, forms } = await syncPhase(run, listed);
  mark("decide");
  await forgetLostSuccessors(run, records);
  const planned = decidePhase(run, records);
  mark("renew");
  await renewPhase(run, planned, records);
  mark("successors+retire");
  await successorPhase(run, records);
  await retirePhase(run, records);
  mark("forecast");
  await forecastPhase(run, records);
  mark("alerts");
  await alertPhase(run, records);
  mark("forms");
  await formsPhase(run, forms, records, listed);
  mark("summary+send");
  await summaryPhase(run);
  await sendPhase(run);
  mark("end");
  return run.report;
}

// ---------------------------------------------------------------------------------------------------------
// Memory

setFlagsFromString("--expose-gc");
/** V8's full collection, so a heap figure before or after a night holds only what is kept. */
export const collectGarbage = runInNewContext("gc") as () => void;

export interface MemoryPeak {
  /** Heap in use after a full collection, before the night (the engine's and the sandbox's data included). */
  heapBefore: number;
  /** Heap in use after a full collection, after the night. */
  heapAfter: number;
  peakHeap: number;
  peakRss: number;
  /** The highest heap in use seen in each part of the night. */
  peakHeapBy: Partial<Record<Phase, number>>;
}

/**
 * Samples the process's memory every few milliseconds (and at every mark) while a night runs. The
 * event loop is busy, so samples come when it lets them: a short peak between two may be missed.
 */
export function memorySampler(everyMs = 20) {
  collectGarbage();
  const peak: MemoryPeak = {
    heapBefore: process.memoryUsage().heapUsed,
    heapAfter: 0,
    peakHeap: 0,
    peakRss: 0,
    peakHeapBy: {},
  };
  let phase: Phase | undefined;
  const sample = () => {
    const { rss, heapUsed } = process.memoryUsage();
    peak.peakRss = Math.max(peak.peakRss, rss);
    peak.peakHeap = Math.max(peak.peakHeap, heapUsed);
    if (phase) peak.peakHeapBy[phase] = Math.max(peak.peakHeapBy[phase] ?? 0, heapUsed);
  };
  const timer = setInterval(sample, everyMs);
  return {
    at(next: Phase | "end") {
      sample();
      phase = next === "end" ? undefined : next;
    },
    stop(): MemoryPeak {
      clearInterval(timer);
      sample();
      collectGarbage();
      peak.heapAfter = process.memoryUsage().heapUsed;
      return peak;
    },
  };
}

export const heapLimit = () => getHeapStatistics().heap_size_limit;
