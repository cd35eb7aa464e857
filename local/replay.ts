import { readFileSync } from "node:fs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { WatcherResult } from "../functions/watcher.ts";
import type { Sandbox } from "../sandbox/server.ts";
import { createDynamoRegister } from "../shared/adapters/dynamodb/register.ts";
import { ensureTable } from "../shared/adapters/dynamodb/table.ts";
import { addDays, type IsoDate } from "../shared/domain/dates.ts";
import {
  fleet,
  OPENING_BALANCE_MINOR,
  type ResellerDesk,
  resellerEvents,
  seedLicence,
  vendorEvents,
} from "./fleet.ts";

export interface ReplayNight {
  night: IsoDate;
  /** What the vendor (or the reseller) did before the run. */
  events: string[];
  result: WatcherResult;
  /** The alerts this night's run sent, as they reached the outbox. */
  alerts: Array<{ subject: string; kind: string; severity: string; licenceId: string | null }>;
  balanceMinor: number;
}

export interface ReplayOptions {
  from: IsoDate;
  to: IsoDate;
  sandbox: Sandbox;
  /** The functions' environment: register engine and table, vendor, OUTBOX_FILE. */
  env: Record<string, string>;
  onNight?: (night: ReplayNight) => void;
}

/**
 * Every night from `from` to `to`, the watcher (the very Lambda handler) against the sandbox, whose
 * clock follows the nights. The demo fleet is ordered on its creation dates and the vendor's own
 * doings happen on theirs.
 */
export async function replay(options: ReplayOptions): Promise<ReplayNight[]> {
  const { sandbox, env } = options;
  // One vendor call at a time: the licences ordered on one night (planned successors) get their ids in
  // the same order on every replay, so its outbox can be compared line by line.
  Object.assign(process.env, { VENDOR_CONCURRENCY: "1" }, env);
  const client = new DynamoDBClient({ endpoint: env.DYNAMODB_ENDPOINT });
  await ensureTable(client, env.TABLE_NAME as string);
  const register = createDynamoRegister({ client, tableName: env.TABLE_NAME as string });
  const { handler, ranNight } = await import("../functions/watcher.ts");
  const outbox = env.OUTBOX_FILE as string;
  let outboxRead = 0;

  const nights: ReplayNight[] = [];
  const pending = [...fleet];
  sandbox.state.setBalance(OPENING_BALANCE_MINOR);
  for (let night = options.from; night <= options.to; night = addDays(night, 1)) {
    sandbox.setNow(new Date(`${night}T01:00:00Z`));
    const events: string[] = [];
    for (const licence of pending.filter((l) => l.createdate <= night)) {
      await seedLicence(sandbox, register, licence);
      pending.splice(pending.indexOf(licence), 1);
      events.push(`ordered ${licence.name} (${licence.case})`);
    }
    for (const event of vendorEvents.filter((e) => e.on === night)) {
      event.act(sandbox);
      events.push(event.what);
    }
    for (const event of resellerEvents.filter((e) => e.on === night)) {
      await asReseller(night, (desk) => event.act(desk, sandbox));
      events.push(event.what);
    }
    sandbox.setNow(new Date(`${night}T02:00:00Z`));
    const result = ranNight(await quietly(() => handler({ date: night })));
    const lines = readOutbox(outbox);
    const alerts = lines.slice(outboxRead).map((line) => JSON.parse(line) as ReplayNight["alerts"][number]);
    outboxRead = lines.length;
    const entry = { night, events, result, alerts, balanceMinor: sandbox.state.balanceMinor };
    nights.push(entry);
    options.onNight?.(entry);
  }
  client.destroy();
  return nights;
}

function readOutbox(file: string): string[] {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * The reseller's calls through the desk, as its API handlers make them (the same module-level desk), on
 * the business date of the night (the evening before its run).
 */
async function asReseller(night: IsoDate, act: (desk: ResellerDesk) => Promise<void>): Promise<void> {
  const { pinClock } = await import("../functions/lib/clock.ts");
  const { deskFor } = await import("../functions/lib/desk.ts");
  pinClock(new Date(`${night}T01:30:00Z`));
  try {
    await act(deskFor("reseller"));
  } finally {
    pinClock(undefined);
  }
}

/** The handler prints each alert and a log line per night; the replay prints its own table instead. */
async function quietly<T>(run: () => Promise<T>): Promise<T> {
  const log = console.log;
  console.log = () => {};
  try {
    return await run();
  } finally {
    console.log = log;
  }
}
