import { loadavg } from "node:os";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { startDynalite } from "../local/dynalite.ts";
import { type FleetLicence, registerRecord, seedInput } from "../local/fleet.ts";
import { startSandbox } from "../sandbox/server.ts";
import type { SandboxState } from "../sandbox/state.ts";
import { type BillingClient, billingClientFromConfig } from "../shared/adapters/billmgr/index.ts";
import {
  createDynamoRegister,
  licenceExpirySortKey,
  licenceKey,
  licenceStatusPartition,
} from "../shared/adapters/dynamodb/register.ts";
import { BY_EXPIRY_INDEX, ensureTable } from "../shared/adapters/dynamodb/table.ts";
import { readBillmgrConfig, readWatcherConfig, watcherSettings } from "../shared/config.ts";
import type { Alert } from "../shared/domain/alerts/alerts.ts";
import { loadCatalogue } from "../shared/domain/catalogue/catalogue.ts";
import { addDays, addMonths, type IsoDate } from "../shared/domain/dates.ts";
import { mapLimit } from "../shared/domain/map-limit.ts";
import { type NightReport, runNight, type WatcherDeps } from "../shared/domain/night/night.ts";
import type { AutoRenew, LicenceRecord } from "../shared/domain/ports/licence-store.ts";
import { median, ms } from "./stats.ts";

const CREDENTIALS = "bench:bench-password";
const TABLE = "watcher-bench";
const FLOOR_TABLE = "watcher-floor";
const EMPTY_TABLE = "watcher-empty";
const EMPTY_NIGHT_GOAL = 1.5;
/** 10,000 unless `BENCH_WATCHER_LICENCES` says otherwise (a smaller fleet to try a change quickly). */
const LICENCES = Number(process.env.BENCH_WATCHER_LICENCES ?? 10_000);
/** Before the ISPmanager 5 cap (2021-04-08) and close (2021-06-15): an ordinary night, no lifecycle alerts. */
const NIGHT: IsoDate = "2021-03-01";
const NEXT_NIGHT: IsoDate = addDays(NIGHT, 1);
/** Rows per page of the vendor's list (BILLMGR_PAGE_SIZE); the client sends it as `p_cnt`. */
const PAGE_SIZE = 1_000;
/** Requests in flight while seeding the register and for the batch-write floor. */
const WRITE_CONCURRENCY = 16;
const BATCH = 25;
/** Licences changed at the vendor before the next night: 1 %. */
const CHANGED = LICENCES / 100;
const GET_SAMPLES = 20;
const READ_FLOOR_TRIES = 3;

/**
 * Watcher nights over a 10,000-licence fleet: `runNight` (list, sync, decide, renew, alert) against the
 * in-process vendor sandbox and dynalite in memory. First the night on an empty register (the sync reads
 * every licence's form and creates them all); then, over a register seeded as if every licence had been
 * ordered through the API, a first night, the same night again (nothing changed: it should write
 * nothing), and the next night after 1 % of the licences changed at the vendor. Every DynamoDB request
 * the register sends is counted and timed by a middleware on its client, so writes are seen whatever
 * wrote them (not only the sync's own count), and each renewal is timed beside its own vendor calls and
 * writes. Beside them, in the same run: the engine's own batch write of the same 10,000 items into a
 * fresh table, its paged query of all of them through the expiry index, the client's list of all 10,000
 * from the sandbox (best of 3 each), and every licence's form read once.
 * The sandbox runs in this process, so every vendor call costs this process's CPU too.
 */
export async function benchWatcher(): Promise<void> {
  const dynamo = await startDynalite();
  const at = nightAt(NIGHT);
  const sandbox = await startSandbox({ credentials: CREDENTIALS, now: at, balanceMinor: 100_000_000 });
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: "local",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const requests = countRequests(client);
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const sent: Alert[] = [];
  /** When each vendor call (attempt) ended, from the client's own hook. */
  const vendorDone: Array<{ func: string; at: number }> = [];
  /** The vendor calls made about one licence, each timed whole. */
  const licenceCalls: LicenceCall[] = [];
  const watcher = readWatcherConfig({});
  const deps: WatcherDeps = {
    billing: timedPerLicence(
      billingClientFromConfig(
        readBillmgrConfig({
          BILLMGR_URL: sandbox.url,
          BILLMGR_CREDENTIALS: CREDENTIALS,
          BILLMGR_PAGE_SIZE: String(PAGE_SIZE),
        }),
        { onCall: (event) => vendorDone.push({ func: event.func, at: performance.now() }) },
      ),
      licenceCalls,
    ),
    register: createDynamoRegister({ client, tableName: TABLE }),
    catalogue: loadCatalogue(),
    notifier: {
      async send(alert) {
        sent.push(alert);
      },
    },
    settings: watcherSettings(watcher),

    idempotency: { ttlSeconds: 30 * 86_400, lockMs: 120_000, settleMs: 0 },
  };

  try {
    await ensureTable(client, TABLE);
    await ensureTable(client, FLOOR_TABLE);
    await ensureTable(client, EMPTY_TABLE);
    const plan = planFleet(LICENCES, NIGHT);

    // The vendor's book, seeded directly (no charge).
    let started = performance.now();
    const records: LicenceRecord[] = plan.map((licence) =>
      registerRecord(licence, sandbox.state.seed(seedInput(licence))),
    );
    const seedVendorMs = performance.now() - started;

    // Floors, in the same run and on the same engine and sandbox.
    const items = records.map(licenceItem);
    started = performance.now();
    await mapLimit(chunks(items, BATCH), WRITE_CONCURRENCY, (chunk) => batchWrite(doc, FLOOR_TABLE, chunk));
    const batchWriteMs = performance.now() - started;
    // The reads: best of a few, so a cold first call does not flatter the night.
    let queried = 0;
    let listed = 0;
    let queryAllMs = Number.POSITIVE_INFINITY;
    let listAllMs = Number.POSITIVE_INFINITY;
    for (let i = 0; i < READ_FLOOR_TRIES; i++) {
      started = performance.now();
      queried = await queryAll(doc, FLOOR_TABLE);
      queryAllMs = Math.min(queryAllMs, performance.now() - started);
      started = performance.now();
      const list = await deps.billing.list();
      if (!list.complete) throw new Error(`floor list not provably complete: ${list.incomplete}`);
      listed = list.rows.length;
      listAllMs = Math.min(listAllMs, performance.now() - started);
    }
    if (queried !== LICENCES || listed !== LICENCES)
      throw new Error(`floor read ${queried} items and listed ${listed} licences`);
    // (info) One licence's form from the sandbox holding 10,000: what each renewal and each changed
    // licence pays per vendor call here (the sandbox runs in this process).
    const getMs: number[] = [];
    for (const record of records.slice(0, GET_SAMPLES)) {
      const before = performance.now();
      await deps.billing.get(record.id);
      getMs.push(performance.now() - before);
    }

    const run = async (label: string, night: IsoDate, on: WatcherDeps = deps) => {
      const instant = nightAt(night);
      sandbox.setNow(instant);
      const callsBefore = sandbox.calls.length;
      requests.reset();
      sent.length = 0;
      vendorDone.length = 0;
      licenceCalls.length = 0;
      const start = performance.now();
      const report = await runNight(on, night, instant);
      const end = performance.now();
      const timeline = phases(start, end, vendorDone, requests.sentAt);
      // Renewals come after the sync (which may have written a licence due tonight too).
      const synced = start + timeline.list + timeline.sync;
      return {
        label,
        wallMs: end - start,
        renewals: report.renewed.map((r) => renewalTime(r.id, synced, requests.sentAt, licenceCalls)),
        phases: timeline,
        report,
        calls: tally(sandbox.calls.slice(callsBefore).map((call) => call.func)),
        writes: [...requests.writes],
        operations: tally(requests.operations),
        alerts: tally(sent.map((alert) => alert.kind)),
      };
    };

    // The first night on an empty register: the sync reads every licence's form and creates them all.
    const emptyNight = await run(`night ${NIGHT}, empty register`, NIGHT, {
      ...deps,
      register: createDynamoRegister({ client, tableName: EMPTY_TABLE }),
    });
    // (info) What that night cannot skip besides the writes: every licence's form, as many in flight as the sync reads.
    started = performance.now();
    await mapLimit(records, deps.settings.vendorConcurrency, (record) => deps.billing.get(record.id));
    const formsMs = performance.now() - started;

    // The register, as if every licence had been ordered through the API (autoRenew as planned), through
    // the register's batch creation.
    requests.reset();
    started = performance.now();
    await mapLimit(chunks(records, BATCH), WRITE_CONCURRENCY, (chunk) =>
      deps.register.licences.createMany(chunk),
    );
    const seedRegisterMs = performance.now() - started;
    console.log(
      `\nwatcher night: ${LICENCES.toLocaleString("en")} licences (${describeFleet(plan, NIGHT)}); ` +
        `vendor book seeded in ${s(seedVendorMs)}, register in ${s(seedRegisterMs)} ` +
        `(${requests.operations.length} requests through licences.createMany, ${WRITE_CONCURRENCY} in flight); ` +
        `load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(" ")}`,
    );

    const first = await run(`night ${NIGHT}`, NIGHT);
    const again = await run(`night ${NIGHT} again`, NIGHT);
    const changes = changeAtVendor(sandbox.state, records, CHANGED);
    const next = await run(`night ${NEXT_NIGHT} (${CHANGED} changed)`, NEXT_NIGHT);
    const runs = [emptyNight, first, again, next];

    console.table(
      runs.map((r) => ({
        run: r.label,
        "wall s": (r.wallMs / 1000).toFixed(2),
        "vendor calls": sum(r.calls),
        "DynamoDB writes": r.writes.length,
        "report.syncWrites": r.report.syncWrites,
        "register reads": (r.operations.GetItemCommand ?? 0) + (r.operations.QueryCommand ?? 0),
        "sync (new/changed/gone/same)": syncLine(r.report),
        renewed: r.report.renewed.length,
        failed: r.report.failed.length + r.report.unknown.length,
        "alerts sent": r.report.sent.length,
      })),
    );
    for (const r of runs) {
      console.log(`${r.label}:`);
      console.log(`  vendor calls   ${line(r.calls)}`);
      console.log(`  DynamoDB ops   ${line(r.operations)}`);
      console.log(`  writes by item ${line(tally(r.writes.map((w) => `${w.op} ${w.kind}`)))}`);
      console.log(`  alerts         ${line(r.alerts)}`);
      console.log(
        `  time           ${Object.entries(r.phases)
          .map(([phase, took]) => `${phase} ${s(took)}`)
          .join(", ")}`,
      );
    }
    console.log(`  vendor changes before ${NEXT_NIGHT}: ${line(changes)}`);
    if (again.writes.length > 0) {
      console.log(`the rerun wrote ${again.writes.length} item(s); the first 20:`);
      for (const w of again.writes.slice(0, 20)) console.log(`  ${w.op} ${w.pk} ${w.sk}`);
    }

    const readFloor = queryAllMs + listAllMs;
    console.table([
      {
        floor: `BatchWriteItem ${LICENCES} items (${BATCH}/request, ${WRITE_CONCURRENCY} in flight)`,
        time: s(batchWriteMs),
      },
      {
        floor: `Query all ${queried} through ${BY_EXPIRY_INDEX} (1,000 a page), best of ${READ_FLOOR_TRIES}`,
        time: s(queryAllMs),
      },
      {
        floor: `billing.list() of ${listed} (p_cnt ${PAGE_SIZE}), best of ${READ_FLOOR_TRIES}`,
        time: s(listAllMs),
      },
      { floor: "query all + list all", time: s(readFloor) },
      { floor: `(info) billing.get, median of ${GET_SAMPLES}`, time: ms(median(getMs)) },
      {
        floor: `(info) billing.get of all ${LICENCES}, ${deps.settings.vendorConcurrency} in flight`,
        time: s(formsMs),
      },
    ]);
    for (const r of runs) {
      console.log(
        `${r.label}: ${s(r.wallMs)}, ${(r.wallMs / readFloor).toFixed(2)}x (query all + list all), ` +
          `${(r.wallMs / batchWriteMs).toFixed(2)}x (batch-write floor)`,
      );
    }
    console.log(
      `seeding the register through licences.createMany took ${(seedRegisterMs / batchWriteMs).toFixed(2)}x the batch-write floor`,
    );
    const emptyRatio = emptyNight.wallMs / batchWriteMs;
    console.log(
      `first night on an empty register (${emptyNight.report.sync.added} new): ${s(emptyNight.wallMs)}, ` +
        `${emptyRatio.toFixed(2)}x the batch-write floor (goal <= ${EMPTY_NIGHT_GOAL}) ` +
        `${emptyRatio <= EMPTY_NIGHT_GOAL ? "ok" : "OVER GOAL"}; ` +
        `${(emptyNight.wallMs / (batchWriteMs + formsMs + listAllMs)).toFixed(2)}x its writes, form reads and list together`,
    );
    for (const r of runs.filter((run) => run.renewals.length > 0)) printRenewals(r.label, r.renewals, deps);
  } finally {
    doc.destroy();
    client.destroy();
    await sandbox.close();
    await dynamo.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The fleet

type PlannedLicence = Omit<FleetLicence, "case">;

/**
 * A reseller's fleet as the watcher finds it on an ordinary night: mostly Lite, 15 % Business with 1-8
 * nodes, 95 % yearly; 70 % renew automatically. Expiries are spread over the coming year (monthly ones over
 * the coming month). Licences that renew automatically expire 3 days out or later (closer ones would have
 * been renewed on earlier nights), so tonight renews those expiring in exactly 3 days.
 */
function planFleet(count: number, night: IsoDate): PlannedLicence[] {
  const random = mulberry32(20_210_301);
  return Array.from({ length: count }, (_, i) => {
    const business = random() < 0.15;
    const period = random() < 0.05 ? 1 : 12;
    const autoRenew: AutoRenew = random() < 0.7 ? period : null;
    const span = period === 1 ? 31 : 365;
    const firstDay = autoRenew === null ? 1 : 3;
    const expiredate = addDays(night, firstDay + Math.floor(random() * (span - firstDay)));
    return {
      name: `${business ? "cluster" : "web"}-${String(i).padStart(5, "0")}.example.net`,
      ip: `185.${20 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
      pricelist: business ? "4601" : "3541",
      nodes: business ? 1 + Math.floor(random() ** 2 * 8) : undefined,
      period,
      createdate: addMonths(expiredate, -period),
      expiredate,
      autoRenew,
    };
  });
}

function describeFleet(plan: PlannedLicence[], night: IsoDate): string {
  const business = plan.filter((l) => l.pricelist === "4601").length;
  const auto = plan.filter((l) => l.autoRenew !== null).length;
  const dueTonight = plan.filter((l) => l.autoRenew !== null && l.expiredate <= addDays(night, 3)).length;
  const soon = plan.filter((l) => l.autoRenew === null && l.expiredate <= addDays(night, 14)).length;
  return (
    `${plan.length - business} Lite, ${business} Business; ${auto} with autoRenew; ` +
    `${dueTonight} due for renewal and ${soon} without autoRenew expiring within 14 days on ${night}`
  );
}

/** 1 % of the fleet changed by the vendor or at its panel: renamed, re-addressed, suspended, deleted. */
function changeAtVendor(
  state: SandboxState,
  records: LicenceRecord[],
  count: number,
): Record<string, number> {
  const done: Record<string, number> = {};
  const step = Math.floor(records.length / count);
  for (let n = 0; n < count; n++) {
    const record = records[n * step + 7] as LicenceRecord;
    const kind = n % 20 === 0 ? "deleted" : n % 10 === 5 ? "suspended" : n % 4 === 1 ? "new IP" : "renamed";
    if (kind === "deleted") state.delete(record.id);
    else if (kind === "suspended") state.suspend(record.id);
    else if (kind === "new IP") state.edit(record.id, { ip: `10.99.${n >> 8}.${n & 255}` });
    else state.edit(record.id, { licname: `${record.name}-renamed` });
    done[kind] = (done[kind] ?? 0) + 1;
  }
  return done;
}

/** Small, seedable, good enough to spread a fleet. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const nightAt = (night: IsoDate) => new Date(`${night}T02:00:00Z`);

// ---------------------------------------------------------------------------------------------------------
// DynamoDB: counting, floors

interface RequestSeen {
  at: number;
  end: number;
  kind: string;
  op: string;
  pk: string;
  sk: string;
}

interface WriteSeen {
  op: string;
  /** What the item is, by its partition key: licence, idempotency, audit, alert. */
  kind: string;
  pk: string;
  sk: string;
}

/** Counts every request sent on the client, and every item each write request writes. */
function countRequests(client: DynamoDBClient) {
  const counter = {
    operations: [] as string[],
    writes: [] as WriteSeen[],
    /** When each request was sent and answered, and on what item (the first, for batches). */
    sentAt: [] as RequestSeen[],
    reset,
  };
  function reset() {
    counter.operations = [];
    counter.writes = [];
    counter.sentAt = [];
  }
  const seen = (op: string, key: unknown) => {
    const k = (key ?? {}) as Record<string, unknown>;
    const pk = attribute(k.pk);
    counter.writes.push({ op, kind: kindOf(pk), pk, sk: attribute(k.sk) });
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = context.commandName ?? "unknown";
      counter.operations.push(op);
      const input = args.input as Record<string, unknown>;
      const key = (input.Key ?? input.Item ?? {}) as Record<string, unknown>;
      const pk = attribute(key.pk);
      const timing: RequestSeen = {
        at: performance.now(),
        end: 0,
        kind: kindOf(pk),
        op,
        pk,
        sk: attribute(key.sk),
      };
      counter.sentAt.push(timing);
      if (op === "PutItemCommand") seen("Put", input.Item);
      else if (op === "UpdateItemCommand") seen("Update", input.Key);
      else if (op === "DeleteItemCommand") seen("Delete", input.Key);
      else if (op === "BatchWriteItemCommand") {
        const tables = (input.RequestItems ?? {}) as Record<
          string,
          Array<Record<string, { Item?: unknown; Key?: unknown }>>
        >;
        for (const request of Object.values(tables).flat()) {
          if (request.PutRequest) seen("BatchPut", request.PutRequest.Item);
          if (request.DeleteRequest) seen("BatchDelete", request.DeleteRequest.Key);
        }
      } else if (op === "TransactWriteItemsCommand") {
        const transact = (input.TransactItems ?? []) as Array<
          Record<string, { Item?: unknown; Key?: unknown }>
        >;
        for (const item of transact) {
          if (item.Put) seen("TransactPut", item.Put.Item);
          if (item.Update) seen("TransactUpdate", item.Update.Key);
          if (item.Delete) seen("TransactDelete", item.Delete.Key);
        }
      }
      try {
        return await next(args);
      } finally {
        timing.end = performance.now();
      }
    },
    { step: "initialize", name: "benchCountRequests" },
  );
  return counter;
}

/** A key attribute as the document client gives it (a string) or marshalled (`{S: ...}`). */
function attribute(value: unknown): string {
  if (typeof value === "string") return value;
  const s = (value as { S?: unknown } | undefined)?.S;
  return typeof s === "string" ? s : "?";
}

function kindOf(pk: string): string {
  const prefix = pk.split("#")[0] ?? "";
  return (
    { LIC: "licence", IDEM: "idempotency", AUDIT: "audit", ALERT: "alert", ALERTS: "alert", NIGHT: "night" }[
      prefix
    ] ?? prefix
  );
}

/** The item `licences.put` writes for a record (shared/adapters/dynamodb/register.ts). */
function licenceItem(record: LicenceRecord): Record<string, unknown> {
  return {
    ...record,
    ...licenceKey(record.id),
    gsi1pk: "LICENCE",
    gsi1sk: licenceExpirySortKey(record),
    gsi2pk: licenceStatusPartition(record.status),
  };
}

async function batchWrite(
  doc: DynamoDBDocumentClient,
  table: string,
  items: Record<string, unknown>[],
): Promise<void> {
  let requests: Array<{ PutRequest?: { Item: Record<string, unknown> } }> = items.map((Item) => ({
    PutRequest: { Item },
  }));
  while (requests.length > 0) {
    const { UnprocessedItems } = await doc.send(
      new BatchWriteCommand({ RequestItems: { [table]: requests as never } }),
    );
    requests = (UnprocessedItems?.[table] ?? []) as typeof requests;
  }
}

/** Every licence item through the expiry index, 1,000 a page (as the sync's `allLicences` asks). */
async function queryAll(doc: DynamoDBDocumentClient, table: string): Promise<number> {
  let count = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: table,
        IndexName: BY_EXPIRY_INDEX,
        KeyConditionExpression: "gsi1pk = :p",
        ExpressionAttributeValues: { ":p": "LICENCE" },
        Limit: 1_000,
        ExclusiveStartKey: startKey,
      }),
    );
    count += page.Items?.length ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return count;
}

// ---------------------------------------------------------------------------------------------------------
// One renewal: its own time beside its own vendor calls and writes

interface LicenceCall {
  id: string;
  func: string;
  at: number;
  end: number;
}

/** The billing client, with each call about one licence (`get`, `prolong`) timed whole and kept by id. */
function timedPerLicence(billing: BillingClient, into: LicenceCall[]): BillingClient {
  const timed =
    <A extends unknown[], R>(func: string, call: (id: string, ...rest: A) => Promise<R>) =>
    async (id: string, ...rest: A): Promise<R> => {
      const at = performance.now();
      try {
        return await call(id, ...rest);
      } finally {
        into.push({ id, func, at, end: performance.now() });
      }
    };
  return { ...billing, get: timed("get", billing.get), prolong: timed("prolong", billing.prolong) };
}

/** The licence a register request is about, from its key, or undefined (alerts, the night's own items). */
function licenceOf(request: RequestSeen): string | undefined {
  const [prefix, rest = ""] = request.pk.split(/#(.*)/s);
  if (prefix === "LIC" || prefix === "AUDIT" || prefix === "RENEWING") return rest;
  if (prefix === "IDEM") return /#watch:(\d+):/.exec(request.pk)?.[1];
  if (prefix === "NIGHT" && request.sk.startsWith("RENEWAL#")) return request.sk.slice("RENEWAL#".length);
  return undefined;
}

const WRITES = new Set(["PutItemCommand", "UpdateItemCommand", "DeleteItemCommand"]);

interface RenewalTime {
  /** From its first request to its last, the phase's fresh read to the night's record of it. */
  wallMs: number;
  /** Its own vendor calls and register writes, each as long as it took, added up. */
  floorMs: number;
  vendorCalls: number;
  writes: number;
  reads: number;
}

function renewalTime(id: string, after: number, requests: RequestSeen[], calls: LicenceCall[]): RenewalTime {
  // From the renew phase's fresh read of the licence to the night's record of its outcome (the summary
  // reads the licence again later: not part of the renewal).
  const about = requests.filter((r) => r.at >= after && licenceOf(r) === id);
  const start = about[0]?.at ?? after;
  const end = about.findLast((r) => r.kind === "night" && r.op === "PutItemCommand")?.end ?? start;
  const own = about.filter((r) => r.at <= end);
  const vendor = calls.filter((c) => c.at >= start && c.end <= end && c.id === id);
  const writes = own.filter((r) => WRITES.has(r.op));
  const spans = [...own, ...vendor];
  const took = (items: Array<{ at: number; end: number }>) => items.reduce((t, i) => t + (i.end - i.at), 0);
  return {
    wallMs: Math.max(...spans.map((x) => x.end)) - Math.min(...spans.map((x) => x.at)),
    floorMs: took(vendor) + took(writes),
    vendorCalls: vendor.length,
    writes: writes.length,
    reads: own.length - writes.length,
  };
}

const RENEWAL_GOAL = 2;

function printRenewals(label: string, renewals: RenewalTime[], deps: WatcherDeps): void {
  const ratios = renewals.map((r) => r.wallMs / r.floorMs);
  const ratio = median(ratios);
  const counts = (pick: (r: RenewalTime) => number) => {
    const values = renewals.map(pick);
    const [low, high] = [Math.min(...values), Math.max(...values)];
    return low === high ? `${low}` : `${low}-${high}`;
  };
  console.log(
    `${label}: one renewal (${renewals.length}, ${deps.settings.vendorConcurrency} in flight) ` +
      `${ms(median(renewals.map((r) => r.wallMs)))} median; its own vendor calls and writes ` +
      `${ms(median(renewals.map((r) => r.floorMs)))} median; ratio ${ratio.toFixed(2)} median ` +
      `(${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}) (goal <= ${RENEWAL_GOAL}) ` +
      `${ratio <= RENEWAL_GOAL ? "ok" : "OVER GOAL"}; each: ${counts((r) => r.vendorCalls)} vendor calls, ` +
      `${counts((r) => r.writes)} writes, ${counts((r) => r.reads)} reads`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Printing

/**
 * Where a night's time went, from the order `runNight` works in: the vendor's list (its `soft` pages come
 * first); the sync, up to the night's sync counts it writes when done; the decisions and the renewals, up
 * to the first alert-ledger request after the last renewal's record; then the alerts, the summary and
 * the sending.
 */
function phases(
  start: number,
  end: number,
  vendor: Array<{ func: string; at: number }>,
  register: RequestSeen[],
): { list: number; sync: number; "decide+renew": number; alerts: number } {
  const listed = vendor.filter((c) => c.func === "soft").at(-1)?.at ?? start;
  const synced = register.find((r) => r.kind === "night" && r.sk === "SYNC" && r.at > listed)?.end ?? listed;
  const renewed =
    register.findLast((r) => r.kind === "night" && r.sk.startsWith("RENEWAL#") && r.op === "PutItemCommand")
      ?.end ?? synced;
  const alerting = register.find((r) => r.kind === "alert" && r.at > Math.max(synced, renewed))?.at ?? end;
  return {
    list: listed - start,
    sync: synced - listed,
    "decide+renew": alerting - synced,
    alerts: end - alerting,
  };
}

function chunks<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) =>
    items.slice(i * size, (i + 1) * size),
  );
}

function tally(names: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

function line(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? "none" : entries.map(([name, n]) => `${name} ${n}`).join(", ");
}

function syncLine(report: NightReport): string {
  const { added, updated, gone, unchanged } = report.sync;
  return `${added}/${updated}/${gone}/${unchanged}`;
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
