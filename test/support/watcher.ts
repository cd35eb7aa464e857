import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { inject } from "vitest";
import { type FleetLicence, seedInput, seedLicence } from "../../local/fleet.ts";
import type { BillingClient } from "../../shared/adapters/billmgr/index.ts";
import { createDynamoRegister } from "../../shared/adapters/dynamodb/register.ts";
import { readWatcherConfig, watcherSettings } from "../../shared/config.ts";
import type { Alert } from "../../shared/domain/alerts/alerts.ts";
import { loadCatalogue } from "../../shared/domain/catalogue/catalogue.ts";
import type { IsoDate } from "../../shared/domain/dates.ts";
import {
  type NightReport,
  runNight,
  type WatcherDeps,
  type WatcherSettings,
} from "../../shared/domain/night/night.ts";
import type { LicenceRecord } from "../../shared/domain/ports/licence-store.ts";
import type { Notifier } from "../../shared/domain/ports/notifier.ts";
import type { Register } from "../../shared/domain/ports/register.ts";
import { dynamoClient, freshTable } from "./dynamodb.ts";
import { type VendorSandbox, vendorSandbox } from "./vendor.ts";

/** The watcher's settings as the product ships them (every variable unset). */
export function defaultSettings(overrides: Partial<WatcherSettings> = {}): WatcherSettings {
  return { ...watcherSettings(readWatcherConfig({})), ...overrides };
}

/** A notifier that keeps what it is given, in order. */
export function arrayNotifier(): Notifier & { sent: Alert[] } {
  const sent: Alert[] = [];
  return {
    sent,
    async send(alert) {
      sent.push(alert);
    },
  };
}

/** The outbox file as the outbox notifier writes it: one JSON line per alert. */
export interface OutboxLine {
  subject: string;
  body: string;
  severity: string;
  kind: string;
  licenceId: string | null;
  night: string;
}

export function readOutbox(file: string): OutboxLine[] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as OutboxLine);
}

/** A temporary directory, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fleet licence with the usual defaults: Lite, one month, active. */
export function fleetLicence(
  licence: Pick<FleetLicence, "name" | "ip" | "expiredate"> & Partial<FleetLicence>,
): FleetLicence {
  return {
    pricelist: "3541",
    period: 1,
    createdate: "2021-03-01",
    autoRenew: null,
    case: licence.name,
    ...licence,
  };
}

export interface WatchHarness {
  vendor: VendorSandbox;
  client: DynamoDBClient;
  table: string;
  register: Register;
  billing: BillingClient;
  notifier: Notifier;
  deps: WatcherDeps;
  /**
   * Lets `ms` pass for the runs' locks and leases (`deps.nowMs`: the real time plus what tests moved it
   * by) and for the vendor, as a later run would find them. Nothing sleeps.
   */
  advance(ms: number): void;
  /** Books a licence at the vendor (no charge) and in the register; returns its id. */
  seed(licence: FleetLicence): Promise<string>;
  /** Books a licence at the vendor only (the register learns of it from the sync). */
  seedVendorOnly(licence: FleetLicence): string;
  /** One night of the watcher: the sandbox's clock at 02:00 UTC of that night, then runNight (with `deps`). */
  run(night: IsoDate, withDeps?: WatcherDeps): Promise<NightReport>;
  record(id: string): Promise<LicenceRecord | undefined>;
  /** Vendor-side licence by name. */
  vendorLicence(name: string): ReturnType<VendorSandbox["sandbox"]["state"]["list"]>[number] | undefined;
  prolongs(): number;
  close(): Promise<void>;
}

/**
 * The watcher's own pieces, built by hand as the handler builds them: the vendor sandbox over real
 * HTTP, a fresh register table on DynamoDB Local, the real catalogue, and the given notifier.
 */
export async function watchHarness(options: {
  now: IsoDate;
  notifier?: Notifier;
  balanceMinor?: number;
  settings?: Partial<WatcherSettings>;
  /** Vendor client settings by variable (BILLMGR_RETRIES, …). */
  clientEnv?: Record<string, string>;
  tablePrefix?: string;
  /** The desk's lock (and the night's renewal lease): how long before a dead run's claim can be taken. */
  lockMs?: number;
}): Promise<WatchHarness> {
  const vendor = await vendorSandbox({
    now: new Date(`${options.now}T00:00:00Z`),
    balanceMinor: options.balanceMinor,
  });
  const client = dynamoClient(inject("dynamodbEndpoint"));
  const table = await freshTable(client, options.tablePrefix ?? "watcher");
  const register = createDynamoRegister({ client, tableName: table });
  const billing = vendor.client({ BILLMGR_RETRIES: "1", ...options.clientEnv });
  const notifier = options.notifier ?? arrayNotifier();
  let movedMs = 0;
  const deps: WatcherDeps = {
    billing,
    register,
    catalogue: loadCatalogue(),
    notifier,
    settings: defaultSettings(options.settings),
    idempotency: { ttlSeconds: 30 * 86_400, lockMs: options.lockMs ?? 120_000, settleMs: 0 },
    nowMs: () => Date.now() + movedMs,
  };
  return {
    vendor,
    client,
    table,
    register,
    billing,
    notifier,
    deps,
    advance(ms) {
      movedMs += ms;
      vendor.sandbox.setNow(new Date(vendor.sandbox.state.now().getTime() + ms));
    },
    seed: (licence) => seedLicence(vendor.sandbox, register, licence),
    seedVendorOnly(licence) {
      return vendor.sandbox.state.seed(seedInput(licence)).id;
    },
    run(night, withDeps = deps) {
      const at = new Date(`${night}T02:00:00Z`);
      vendor.sandbox.setNow(at);
      return runNight(withDeps, night, at);
    },
    record: (id) => register.licences.get(id),
    vendorLicence: (name) => vendor.sandbox.state.list().find((l) => l.licname === name),
    prolongs: () => vendor.calls("service.prolong"),
    async close() {
      client.destroy();
      await vendor.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Killing a run

/** What every dependency of a run throws once the run has died. */
export class Killed extends Error {
  override readonly name = "Killed";
}

/** Register methods that only read; every other one writes. */
const READS = new Set([
  "get",
  "list",
  "find",
  "recorded",
  "pending",
  "sent",
  "read",
  "forLicence",
  "unresolved",
]);

/**
 * Where a run dies: at the `nth` call (1-based) of `at` whose arguments `match`, `before` it (the call
 * never happens) or `after` it (it happens, its answer is never seen). `at` names one method
 * (`notifier.send`, `billing.prolong`, `register.licences.update`) or `register.write` (any register
 * write: licences, audit, idempotency, alerts, nights).
 */
export interface KillPoint {
  at: string;
  nth: number;
  when: "before" | "after";
  match?: (args: unknown[]) => boolean;
}

/**
 * The run's dependencies as a process that can be killed: once it dies (at the kill point), every call
 * to any of them throws `Killed`, and a call in flight at that moment (it reaches the vendor or the
 * table, as it would) answers `Killed` too: no code of the dead run sees anything again. The calls made
 * are listed, by name.
 */
export function mortal(deps: WatcherDeps, kill: KillPoint) {
  let dead = false;
  let inflight = 0;
  /** Who waits for the calls in flight to have landed. */
  const idle: Array<() => void> = [];
  let counted = 0;
  let killedAt: string | undefined;
  const calls: string[] = [];

  const matches = (name: string, args: unknown[]) => {
    const [, store, method] = name.split(".");
    const target =
      kill.at === name ||
      (kill.at === "register.write" &&
        name.startsWith("register.") &&
        store !== undefined &&
        !READS.has(method ?? ""));
    return target && (kill.match?.(args) ?? true);
  };

  function wrap<T extends object>(target: T, prefix: string): T {
    return new Proxy(target, {
      get(object, property, receiver) {
        const value = Reflect.get(object, property, receiver);
        if (typeof value !== "function") return value;
        const name = `${prefix}.${String(property)}`;
        return async (...args: unknown[]) => {
          if (dead) throw new Killed(`dead before ${name}`);
          calls.push(name);
          const here = matches(name, args) && ++counted === kill.nth;
          if (here) killedAt = name;
          if (here && kill.when === "before") {
            dead = true;
            throw new Killed(`killed before ${name}`);
          }
          inflight++;
          try {
            const result = await value.apply(object, args);
            if (here) dead = true;
            if (dead) throw new Killed(`killed during ${name}`);
            return result;
          } finally {
            inflight--;
            if (inflight === 0) for (const resolve of idle.splice(0)) resolve();
          }
        };
      },
    });
  }

  const register = deps.register;
  return {
    deps: {
      ...deps,
      billing: wrap(deps.billing, "billing"),
      notifier: wrap(deps.notifier, "notifier"),
      register: {
        licences: wrap(register.licences, "register.licences"),
        audit: wrap(register.audit, "register.audit"),
        idempotency: wrap(register.idempotency, "register.idempotency"),
        alerts: wrap(register.alerts, "register.alerts"),
        nights: wrap(register.nights, "register.nights"),
      },
    } satisfies WatcherDeps,
    calls,
    died: () => dead,
    /** The call the run died at. */
    killedAt: () => killedAt,
    /**
     * Resolves once every call of the dead run has landed. Nothing else of it can act any more: once it
     * is dead, a call (a retry's too) throws before it reaches anything.
     */
    async settled(): Promise<void> {
      if (!dead) throw new Error("settled() is for a run that died");
      if (inflight > 0) await new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}

/** The ledger names an alert (or each alert a digest carries) stands for. */
export function ledgerKeys(alert: Alert): string[] {
  return alert.covers ?? [`${alert.ledger.subject}|${alert.kind}|${alert.ledger.threshold}`];
}
