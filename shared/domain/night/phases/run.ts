import { randomBytes } from "node:crypto";
import type { Alert, Told } from "../../alerts/alerts.ts";
import { pendingOf, recordAlerts } from "../../alerts/send-pending.ts";
import { type Catalogue, ordersOpen, type Product } from "../../catalogue/catalogue.ts";
import { addDays, type IsoDate } from "../../dates.ts";
import { formatMoney } from "../../money.ts";
import type { LicenceRecord } from "../../ports/licence-store.ts";
import { fateOf, type PlannedSuccessorWords, type SuccessorProduct } from "../../renewal/fate.ts";
import { renewalCost } from "../../renewal/renewal-rules.ts";
import { type SuccessorPlanSettings, successorPlanFor } from "../../renewal/successor-plan.ts";
import type { NightReport, WatcherDeps } from "../night-types.ts";

/** One run of one night: what every phase works with. */
export interface NightRun {
  deps: WatcherDeps;
  night: IsoDate;
  /** The schedule's instant: every decision is made with it, so a replay decides the same. */
  at: Date;
  /** This run's id: it holds the renewals it is doing under it. */
  id: string;
  report: NightReport;
  /** Wall-clock ms, for leases (which time real processes, whatever night is replayed). */
  nowMs(): number;
  /** When this run began to read the vendor's list (wall clock): how fresh its rows are. */
  listedAtMs?: number;
  /** When this run stops beginning optional work (wall clock ms): its time left, less what finishing takes. */
  stopAtMs: number;
  productOf(licence: LicenceRecord): Product | undefined;
  /** A licence with its product and fate as tonight's mails tell it (tonight's renewals done). */
  tell(licence: LicenceRecord): Told;
  /** Records alerts as pending in the ledger (the send phase sends them); counts those recorded already. */
  raise(alerts: readonly Alert[]): Promise<void>;
}

export function nightRun(deps: WatcherDeps, night: IsoDate, at: Date): NightRun {
  const report: NightReport = {
    night,
    sync: { listed: 0, added: 0, updated: 0, gone: 0, unchanged: 0 },
    syncWrites: 0,
    listIncomplete: undefined,
    renewed: [],
    failed: [],
    unknown: [],
    busy: [],
    renewedElsewhere: [],
    retired: [],
    successorsOrdered: [],
    successorsFailed: [],
    successorsAwaiting: [],
    retireHeld: [],
    skipped: [],
    blocked: [],
    sent: [],
    alreadySent: 0,
    undelivered: 0,
    summaryDeferred: false,
    pastCutoff: 0,
    forecast: undefined,
    expiringSoon: [],
    forms: { due: 0, read: 0, failed: 0, left: 0, stopped: false, throttled: false },
    tonight: { renewed: 0, failed: 0, awaiting: 0 },
  };
  const nowMs = deps.nowMs ?? Date.now;
  const reserve = deps.settings.finishReserveMs ?? 60_000;
  return {
    deps,
    night,
    at,
    id: randomBytes(6).toString("hex"),
    report,
    nowMs,
    stopAtMs: deps.remainingMs ? nowMs() + deps.remainingMs() - reserve : Number.POSITIVE_INFINITY,
    productOf: (licence) => deps.catalogue.byPricelist(licence.pricelist),
    tell(licence) {
      const product = deps.catalogue.byPricelist(licence.pricelist);
      return {
        licence,
        product,
        fate: fateOf(licence, product, night, deps.settings),
        successor: successorOf(deps.catalogue, product, night),
        planned: plannedOf(deps.catalogue, licence, night, deps.settings),
        currency: deps.catalogue.currency,
      };
    },
    async raise(alerts) {
      report.alreadySent += await recordAlerts(
        deps.register.alerts,
        alerts.map((a) => pendingOf(a)),
      );
    },
  };
}

/** The catalogue's successor of a product, if still sold tonight, priced for a year in the catalogue's currency. */
export function successorOf(
  catalogue: Catalogue,
  product: Product | undefined,
  night: IsoDate,
): SuccessorProduct | undefined {
  const next = product?.successor ? catalogue.byId(product.successor) : undefined;
  // Only a product still sold tonight is advised: its order would be refused otherwise.
  if (!next || !ordersOpen(next, night)) return undefined;
  const money = (minor: number) => formatMoney({ minor, currency: catalogue.currency });
  const yearly = next.costMinor["12"];
  const perNode = next.nodes?.costMinor["12"];
  return {
    product: next,
    price:
      yearly === undefined
        ? undefined
        : `${money(yearly)} a year${perNode === undefined ? "" : ` plus ${money(perNode)} per node`}`,
  };
}

/** The successor the watcher will order for the licence, if one is planned and its product still sold, priced for its period. */
export function plannedOf(
  catalogue: Catalogue,
  licence: LicenceRecord,
  night: IsoDate,
  settings: SuccessorPlanSettings,
): PlannedSuccessorWords | undefined {
  const due = successorPlanFor(licence, catalogue, night, settings);
  if (!due || !ordersOpen(due.product, night) || licence.suspendedBy === "desk") return undefined;
  const { product } = due;
  const period = due.plan.period;
  const priced = product.costMinor[String(period)] !== undefined;
  const cost = renewalCost(product, period, product.nodes ? licence.nodes : undefined);
  return {
    product,
    // Tonight's mails go out after tonight's orders: one due by tonight that is still planned failed
    // tonight, and is tried again tomorrow.
    on: due.on <= night ? addDays(night, 1) : due.on,
    period,
    price: priced ? formatMoney({ minor: cost, currency: catalogue.currency }) : undefined,
  };
}
