import fc from "fast-check";
import { dynamoClient } from "../support/dynamodb.ts";
import { type Cmd, commandArbitrary, finale } from "./commands.ts";
import { addStats, emptyStats, newSim, type Sim, type Stats } from "./model.ts";
import { createWorld, type Mutant, WATCH_SUCCESSOR, WATCHER_SCOPE, type World } from "./world.ts";

export interface CampaignOptions {
  /** DynamoDB Local's endpoint. */
  endpoint: string;
  runs: number;
  /** fast-check's seed; a random one (printed) when absent. */
  seed?: number | undefined;
  /** fast-check's path, to replay one counterexample (printed with a failure). */
  path?: string | undefined;
  /** The command sequence's own replay path (`replayPath` in the printed sequence), with `path`. */
  replayPath?: string | undefined;
  maxCommands: number;
  /** Watcher nights (and their reruns, copies and kills) among the commands. */
  nights: boolean;
  /** The world beside the desk among the commands: the vendor's panel, a second key, the reconciler's race. */
  panel?: boolean | undefined;
  /** Shrink a failure to a smaller sequence (slow: every try runs for real). */
  shrink: boolean;
  /** A known bug put back into the product, to prove the simulation finds it. */
  mutant?: Mutant | undefined;
  /** Called with a line after each run. */
  progress?: (line: string) => void;
  /** Also give `progress` each run's timeline. */
  trace?: boolean;
}

export interface CampaignResult {
  seed: number;
  /** As given: a replay needs the same. */
  maxCommands: number;
  nights: boolean;
  panel: boolean;
  runs: number;
  ms: number;
  stats: Stats;
  failure?: {
    /** fast-check's path of the (shrunk) counterexample: replay with the same seed and this path. */
    path: string | undefined;
    /** The failing command sequence. */
    commands: string;
    error: string;
  };
}

/**
 * Runs `runs` random command sequences, each in a fresh world (its own sandbox and register table),
 * each ending with a settle window and a reconciler pass; stops at the first broken invariant.
 */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const seed = options.seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
  const dynamo = dynamoClient(options.endpoint);
  const stats = emptyStats();
  const started = performance.now();
  let run = 0;
  const property = fc.asyncProperty(
    fc.commands([commandArbitrary({ nights: options.nights, panel: options.panel ?? false })], {
      maxCommands: options.maxCommands,
      size: "max",
      ...(options.replayPath !== undefined && { replayPath: options.replayPath }),
    }),
    async (commands) => {
      run += 1;
      const runStarted = performance.now();
      const world = await createWorld(dynamo, options.mutant);
      const sim = newSim(world.vendorBook().map((l) => l.id));
      let failed = false;
      try {
        await fc.asyncModelRun(() => ({ model: sim, real: world }), [...commands, ...finale()]);
      } catch (error) {
        failed = true;
        if (error instanceof Error) error.message += `\n\nWhat happened:\n${sim.log.join("\n")}`;
        if (error instanceof Error && process.env.SIM_DEBUG)
          error.message += `\n\nJournal:\n${journalText(world)}`;
        throw error;
      } finally {
        sim.stats.runs = 1;
        sim.stats.charges = world.charges.length;
        sim.stats.watcherCharges = world.charges.filter((c) => c.label?.startsWith("watcher:")).length;
        sim.stats.lateCharges = world.charges.filter((c) => c.call?.fault === "act-late").length;
        sim.stats.mails = world.mails.length;
        worldStats(sim, world);
        addStats(stats, sim.stats);
        await world.close();
        options.progress?.(
          `run ${run}: ${sim.stats.commands} commands, ${sim.stats.apiCalls} API calls, ${sim.stats.charges} charges, ${sim.stats.kills} kills, ${sim.stats.nights} nights, ${Math.round(performance.now() - runStarted)} ms${failed ? " FAILED" : ""}`,
        );
        if (options.trace) options.progress?.(sim.log.join("\n"));
      }
    },
  );
  try {
    const details = await fc.check(property, {
      numRuns: options.runs,
      seed,
      ...(options.path !== undefined && { path: options.path }),
      endOnFailure: !options.shrink,
    });
    const ms = Math.round(performance.now() - started);
    const given = {
      seed,
      maxCommands: options.maxCommands,
      nights: options.nights,
      panel: options.panel ?? false,
    };
    if (!details.failed) return { ...given, runs: details.numRuns, ms, stats };
    const error = details.errorInstance;
    return {
      ...given,
      runs: details.numRuns,
      ms,
      stats,
      failure: {
        path: details.counterexamplePath ?? undefined,
        commands: details.counterexample ? fc.stringify(details.counterexample[0]) : "(none)",
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      },
    };
  } finally {
    dynamo.destroy();
  }
}

/** The failure as a report: how to replay it, the sequence, and what went wrong. */
export function describeFailure(result: CampaignResult): string {
  const failure = result.failure;
  if (!failure) return "";
  const replayPath = /replayPath="([^"]*)"/.exec(failure.commands)?.[1];
  const flags = [
    `--seed ${result.seed}`,
    failure.path ? `--path "${failure.path}"` : "",
    replayPath ? `--replay-path "${replayPath}"` : "",
    `--max-commands ${result.maxCommands}`,
    result.nights ? "" : "--no-nights",
    result.panel ? "--panel" : "",
    "--runs 1",
  ].filter(Boolean);
  return [
    `Property failed: seed ${result.seed}${failure.path ? `, path "${failure.path}"` : ""}`,
    `Replay: npm run simulate -- ${flags.join(" ")}`,
    `Sequence: ${failure.commands}`,
    "",
    failure.error,
  ].join("\n");
}

/**
 * Runs one written-out sequence (then the finale: settle, the client catching up, settle) in a fresh
 * world: a scenario, or a bug's shortest sequence. Throws the first broken invariant, its timeline
 * appended; returns the run's statistics and timeline otherwise.
 */
export async function runSequence(
  endpoint: string,
  commands: Cmd[],
  mutant?: Mutant,
): Promise<{ stats: Stats; log: string[] }> {
  const dynamo = dynamoClient(endpoint);
  const world = await createWorld(dynamo, mutant);
  const sim = newSim(world.vendorBook().map((l) => l.id));
  try {
    await fc.asyncModelRun(() => ({ model: sim, real: world }), [...commands, ...finale()]);
    worldStats(sim, world);
    return { stats: sim.stats, log: sim.log };
  } catch (error) {
    if (error instanceof Error) error.message += `\n\nWhat happened:\n${sim.log.join("\n")}`;
    throw error;
  } finally {
    await world.close();
    dynamo.destroy();
  }
}

/**
 * What the vendor did for the new money routes: successors placed (for the client, and for a night's
 * plan), tariffs changed, licences retired.
 */
function worldStats(sim: Sim, world: World): void {
  const kindOf = (intent: string | undefined) => {
    const key = intent?.slice(intent.indexOf("|") + 1);
    return key === undefined ? undefined : sim.byKey.get(key)?.kind;
  };
  const desk = world.charges.filter((c) => !c.label?.startsWith("panel:"));
  sim.stats.successorsPlaced = desk.filter(
    (c) => c.func === "soft.order.param" && kindOf(c.intent) === "successor",
  ).length;
  sim.stats.watcherSuccessorsPlaced = desk.filter(
    (c) => c.func === "soft.order.param" && c.intent?.startsWith(`${WATCHER_SCOPE}|${WATCH_SUCCESSOR}`),
  ).length;
  sim.stats.productChanges = desk.filter((c) => c.func === "service.changepricelist").length;
  sim.stats.retirements = world.deletions.filter((d) => !d.label?.startsWith("panel:")).length;
}

/** The journal of register writes, for SIM_DEBUG. */
function journalText(world: World): string {
  return world.journal
    .map(
      (j) =>
        `${j.wallMs % 100_000} ${j.label} ${j.store}.${j.method} ${JSON.stringify(j.args).slice(0, 240)}`,
    )
    .join("\n");
}
