import { randomBytes } from "node:crypto";
import { addDays, addMonths, type IsoDate, toIsoDate } from "../shared/domain/dates.ts";
import { SandboxError } from "./errors.ts";
import {
  assertAffordable,
  assertOnSale,
  formatMinor,
  type OrderQuote,
  orderExpiry,
  priceMinor,
  quoteOrder,
  renewalExpiry,
  tariffChangeMinor,
} from "./pricing.ts";
import { DEFAULT_PRODUCTS, generationOf, type Product, periodsOf } from "./products.ts";
import { canonicalIpv6, DEFAULT_QUIRKS, mergeQuirks, type Quirks } from "./quirks.ts";
import {
  knownProduct,
  type OrderInput,
  renewableProduct,
  storedIp,
  storedName,
  type TariffChangeInput,
  type ValidOrder,
  validAutoprolong,
  validChangeNodes,
  validDates,
  validIp,
  validKey,
  validLicenceId,
  validName,
  validOrder,
  validPeriod,
  validSeedNodes,
  validSeedPeriod,
  validStatus,
} from "./validation.ts";

/** The vendor's status codes: 1 ordered, 2 active, 3 suspended, 4 deleted, 5 processing. */
export type StatusCode = "1" | "2" | "3" | "4" | "5";
export type SuspendedBy = "user" | "nonpayment";
export type Autoprolong = "1" | "12" | null;

export interface Licence {
  id: string;
  licname: string;
  ip: string;
  pricelist: string;
  /** Units of the product's addon (cluster nodes); null when the product has no addon. */
  nodes: number | null;
  period: number;
  autoprolong: Autoprolong;
  status: StatusCode;
  createdate: IsoDate;
  expiredate: IsoDate;
  /** Empty until the vendor has issued the key. */
  key: string;
  remoteip: string;
  ip_change_date: IsoDate | "";
  lickey_change_date: IsoDate | "";
  suspendedBy: SuspendedBy | null;
  /** Sandbox-clock instant (ms) at which a processing licence becomes active; null once it is. */
  readyAt: number | null;
  /**
   * Sandbox-clock instant (ms) at which the vendor issues the key; null once issued. Later than
   * `readyAt` under the `keyDelayMs` quirk: active, but no key yet.
   */
  keyAt: number | null;
}

/** One debit of the account, so tests can count money exactly. */
export interface Charge {
  func: "soft.order.param" | "service.prolong" | "service.changepricelist";
  /** The licence charged for (for an order, the id it was given). */
  elid: string;
  amountMinor: number;
  /** Sandbox-clock time, ISO 8601. */
  at: string;
}

export interface SeedInput {
  id?: string;
  licname: string;
  ip: string;
  pricelist: string;
  period?: number;
  nodes?: number | null;
  autoprolong?: Autoprolong;
  status?: StatusCode;
  createdate?: IsoDate;
  expiredate?: IsoDate;
  key?: string;
  remoteip?: string;
  ip_change_date?: IsoDate | "";
  lickey_change_date?: IsoDate | "";
  suspendedBy?: SuspendedBy | null;
}

export interface StateOptions {
  now?: Date | undefined;
  balanceMinor?: number | undefined;
  currency?: string | undefined;
  products?: readonly Product[] | undefined;
  provisionMs?: number | undefined;
  quirks?: Partial<Quirks> | undefined;
}

export interface ProlongQuote {
  licence: Licence;
  period: number;
  expiredate: IsoDate;
  newexpiredate: IsoDate;
  priceMinor: number;
}

export interface TariffChangeQuote {
  licence: Licence;
  /** The target tariff. */
  product: Product;
  /** The period priced: the one asked for, else the licence's own. */
  period: number;
  /** Whether the caller asked for `period` (only then does the licence's period change). */
  periodGiven: boolean;
  nodes: number | null;
  priceMinor: number;
}

export const FIRST_LICENCE_ID = 2512171;
export const DEFAULT_BALANCE_MINOR = 100_000;
/** The vendor deletes a licence this many days after it lapsed unpaid. */
export const DELETE_AFTER_DAYS = 30;

function newLicenceKey(): string {
  return randomBytes(10).toString("hex");
}

/** Two spellings of one IPv6 address must collide on the same licence, as they would at the vendor. */
const canonicalIp = canonicalIpv6;

function copy(licence: Licence): Licence {
  return { ...licence };
}

/**
 * The vendor's licence book and account, driven by its own clock. Time-based changes (keys
 * issued, lapses, deletions) are applied lazily whenever the book is read, so moving the clock
 * is enough to age every licence.
 */
export class SandboxState {
  readonly currency: string;
  readonly provisionMs: number;
  private readonly products: ReadonlyMap<string, Product>;
  private readonly licences = new Map<string, Licence>();
  /** The book in id order, kept until a licence is added or removed: a page costs its own rows only. */
  private byId: Licence[] | undefined;
  private offsetMs: number;
  private balance: number;
  private nextId = FIRST_LICENCE_ID;
  /** Nothing in the book falls due before this instant, so calls before it skip the sweep (10,000 licences stay cheap). */
  private nextSweepMs = 0;
  private quirkSet: Quirks;
  private readonly chargeLog: Charge[] = [];
  private chargedTotal = 0;

  constructor(options: StateOptions = {}) {
    this.offsetMs = options.now ? options.now.getTime() - Date.now() : 0;
    this.balance = options.balanceMinor ?? DEFAULT_BALANCE_MINOR;
    if (!Number.isSafeInteger(this.balance)) throw new RangeError("balanceMinor must be an integer");
    this.currency = options.currency ?? "EUR";
    this.provisionMs = Math.max(0, options.provisionMs ?? 0);
    this.products = new Map((options.products ?? DEFAULT_PRODUCTS).map((p) => [p.pricelist, p]));
    this.quirkSet = mergeQuirks(DEFAULT_QUIRKS, options.quirks ?? {});
  }

  get quirks(): Quirks {
    return { ...this.quirkSet };
  }

  /** Changes the quirks named in `changes` (validated whole); applies to what happens from now on. */
  setQuirks(changes: unknown): Quirks {
    this.quirkSet = mergeQuirks(this.quirkSet, changes);
    return this.quirks;
  }

  /** Everything ever debited since the sandbox started; `setBalance` is not a charge. */
  get chargedMinor(): number {
    return this.chargedTotal;
  }

  charges(): Charge[] {
    return this.chargeLog.map((charge) => ({ ...charge }));
  }

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  today(): IsoDate {
    return toIsoDate(this.now());
  }

  /** The clock keeps running from `date` in real time. */
  setNow(date: Date): void {
    if (Number.isNaN(date.getTime())) throw new RangeError("invalid date");
    this.offsetMs = date.getTime() - Date.now();
  }

  get balanceMinor(): number {
    return this.balance;
  }

  setBalance(minor: number): void {
    if (!Number.isSafeInteger(minor))
      throw new RangeError("balance must be an integer number of minor units");
    this.balance = minor;
  }

  productList(): Product[] {
    return [...this.products.values()];
  }

  product(pricelist: string): Product | undefined {
    return this.products.get(pricelist);
  }

  /** A copy of the licence with the clock applied, deleted ones included; undefined when unknown. */
  get(id: string): Licence | undefined {
    this.refresh();
    const licence = this.licences.get(id);
    return licence && copy(licence);
  }

  /** Every licence the vendor still lists, deleted ones included, in id order. */
  list(): Licence[] {
    return this.page(0, Number.POSITIVE_INFINITY).rows;
  }

  /** `count` licences from `offset` in id order, copied, and how many the book holds (`soft`'s paging). */
  page(offset: number, count: number): { rows: Licence[]; total: number } {
    this.refresh();
    this.byId ??= [...this.licences.values()].sort((a, b) => Number(a.id) - Number(b.id));
    return { rows: this.byId.slice(offset, offset + count).map(copy), total: this.byId.length };
  }

  // ---- orders -------------------------------------------------------------------------------

  /** Checks the values of an order the way the vendor's form does, without looking at the book. */
  validateOrder(input: OrderInput): ValidOrder {
    return validOrder(input, this.products, this.quirkSet);
  }

  /** The price of an order form; only the fields given are checked. */
  quoteOrder(input: OrderInput): OrderQuote {
    return quoteOrder(this.products, input);
  }

  /** `soft.checkip`: everything an order would check today except the balance. */
  checkOrder(input: Pick<OrderInput, "ip" | "pricelist" | "period">): void {
    this.refresh();
    const ip = validIp(input.ip);
    const product = knownProduct(this.products, input.pricelist);
    const period =
      input.period === undefined || input.period === ""
        ? (periodsOf(product)[0] ?? 1)
        : validPeriod(product, input.period);
    orderExpiry(product, period, this.today());
    this.assertIpFree(ip, product.pricelist);
  }

  /** A paid order with `skipbasket=on`: charged at once, a new licence in the book. */
  order(input: OrderInput): Licence {
    this.refresh();
    const order = this.validateOrder(input);
    const expiredate = orderExpiry(order.product, order.period, this.today());
    this.assertIpFree(order.ip, order.product.pricelist);
    const id = String(this.nextId);
    this.charge("soft.order.param", id, priceMinor(order.product, order.period, order.nodes));
    this.nextId += 1;
    const readyAt = this.now().getTime() + this.provisionMs;
    const licence: Licence = {
      id,
      licname: order.licname,
      ip: order.ip,
      pricelist: order.product.pricelist,
      nodes: order.nodes,
      period: order.period,
      autoprolong: order.autoprolong,
      status: "5",
      createdate: this.today(),
      expiredate,
      key: "",
      remoteip: "",
      ip_change_date: "",
      lickey_change_date: "",
      suspendedBy: null,
      readyAt,
      keyAt: readyAt + this.quirkSet.keyDelayMs,
    };
    this.licences.set(id, licence);
    this.byId = undefined;
    this.nextSweepMs = Math.min(this.nextSweepMs, nextEventMs(licence));
    this.refresh();
    return copy(this.mustGet(id));
  }

  // ---- renewals -----------------------------------------------------------------------------

  quoteProlong(elid: string | undefined, periodText?: string): ProlongQuote {
    this.refresh();
    const licence = this.live(elid);
    const product = renewableProduct(this.products, licence);
    const period =
      periodText === undefined || periodText === "" ? licence.period : validPeriod(product, periodText);
    const newexpiredate = renewalExpiry(licence, product, period, this.today());
    return {
      licence: copy(licence),
      period,
      expiredate: licence.expiredate,
      newexpiredate,
      priceMinor: priceMinor(product, period, licence.nodes),
    };
  }

  /** `service.prolong` with `sok=ok`: charged at once, the expiry extended from the current one. */
  prolong(elid: string | undefined, periodText?: string): ProlongQuote {
    const quote = this.quoteProlong(elid, periodText);
    this.charge("service.prolong", quote.licence.id, quote.priceMinor);
    const licence = this.mustGet(quote.licence.id);
    licence.expiredate = quote.newexpiredate;
    // Assumed, as billing services keep it: the service's period becomes the one last paid for (the
    // one a prolong without a period would use next). The register keeps the same after a renewal.
    licence.period = quote.period;
    if (licence.status === "3" && licence.suspendedBy === "nonpayment") {
      licence.status = "2";
      licence.suspendedBy = null;
    }
    // A renewal too short to reach today lapses again at once.
    this.changed(licence);
    this.refresh();
    return { ...quote, licence: copy(licence) };
  }

  // ---- tariff changes -----------------------------------------------------------------------

  /**
   * `service.changepricelist` without `sok`: what moving the licence to another tariff of its product
   * line costs today (pricing.ts `tariffChangeMinor`); nothing changes. Refused: unknown or deleted
   * licence (`missed`), one not active (`access`), an unknown tariff, another line's, one no longer
   * sold or the licence's own at the same nodes (`value`/`pricelist`), a bad period or addon (`value`).
   */
  quoteTariffChange(elid: string | undefined, input: TariffChangeInput): TariffChangeQuote {
    this.refresh();
    const licence = this.live(elid);
    if (licence.status !== "2") {
      const why =
        licence.status === "3"
          ? licence.suspendedBy === "nonpayment"
            ? `the licence expired on ${licence.expiredate}; renew it first`
            : "the licence is suspended; resume it first"
          : "the licence is not active yet";
      throw new SandboxError(
        "access",
        "service.changepricelist",
        `The tariff of this licence cannot be changed: ${why}`,
        licence.id,
      );
    }
    const current = this.products.get(licence.pricelist);
    if (!current) throw new Error(`licence ${licence.id} has an unknown tariff ${licence.pricelist}`);
    const product = knownProduct(this.products, input.pricelist);
    if (generationOf(product) !== generationOf(current)) {
      throw new SandboxError(
        "value",
        "pricelist",
        "The tariff cannot be changed to another product line",
        product.pricelist,
      );
    }
    const today = this.today();
    assertOnSale(product, today);
    const periodGiven = input.period !== undefined && input.period !== "";
    const period = validPeriod(product, periodGiven ? input.period : String(licence.period));
    const nodes = validChangeNodes(product, input.addons ?? {}, licence.nodes);
    if (product.pricelist === licence.pricelist && nodes === licence.nodes) {
      throw new SandboxError("value", "pricelist", "The licence already has this tariff", product.pricelist);
    }
    const price = tariffChangeMinor(
      { product: current, nodes: licence.nodes },
      { product, nodes },
      period,
      licence.expiredate,
      today,
    );
    return { licence: copy(licence), product, period, periodGiven, nodes, priceMinor: price };
  }

  /**
   * `service.changepricelist` with `sok=ok`: charged at once, then the licence is on the new tariff
   * (and nodes, and period when one was asked for); its expiry, IP and status stay.
   */
  changeTariff(elid: string | undefined, input: TariffChangeInput): TariffChangeQuote {
    const quote = this.quoteTariffChange(elid, input);
    this.charge("service.changepricelist", quote.licence.id, quote.priceMinor);
    const licence = this.mustGet(quote.licence.id);
    licence.pricelist = quote.product.pricelist;
    licence.nodes = quote.nodes;
    if (quote.periodGiven) licence.period = quote.period;
    this.changed(licence);
    return { ...quote, licence: copy(licence) };
  }

  // ---- changes to a licence -----------------------------------------------------------------

  /** The licence behind `elid`; unknown and deleted ids are `missed`, as the vendor answers. */
  licence(elid: string | undefined): Licence {
    this.refresh();
    return copy(this.live(elid));
  }

  edit(
    elid: string | undefined,
    changes: { licname?: string | undefined; ip?: string | undefined },
  ): Licence {
    this.refresh();
    const licence = this.live(elid);
    const licname =
      changes.licname === undefined ? undefined : storedName(validName(changes.licname), this.quirkSet);
    const ip = changes.ip === undefined ? undefined : storedIp(validIp(changes.ip), this.quirkSet);
    if (ip !== undefined && canonicalIp(ip) !== canonicalIp(licence.ip)) {
      this.assertIpFree(ip, licence.pricelist, licence.id);
      licence.ip = ip;
      licence.ip_change_date = this.today();
    }
    if (licname !== undefined) licence.licname = licname;
    return copy(licence);
  }

  newKey(elid: string | undefined): string {
    this.refresh();
    const licence = this.live(elid);
    if (!licence.key || licence.status === "5") {
      throw new SandboxError("access", "soft.edit", "The licence key has not been issued yet", licence.id);
    }
    licence.key = newLicenceKey();
    licence.lickey_change_date = this.today();
    return licence.key;
  }

  /** Staff re-key a licence in the vendor's own panel: a new key, nothing charged, no call made. */
  rekey(id: string): Licence {
    this.newKey(id);
    return copy(this.mustGet(id));
  }

  suspend(elid: string | undefined): Licence {
    this.refresh();
    const licence = this.live(elid);
    if (licence.status === "5" || licence.status === "1") {
      throw new SandboxError("access", "soft.suspend", "The licence is not active yet", licence.id);
    }
    if (licence.status === "2") {
      licence.status = "3";
      licence.suspendedBy = "user";
    }
    this.changed(licence);
    return copy(licence);
  }

  resume(elid: string | undefined): Licence {
    this.refresh();
    const licence = this.live(elid);
    if (licence.status === "5" || licence.status === "1") {
      throw new SandboxError("access", "soft.resume", "The licence is not active yet", licence.id);
    }
    if (licence.status === "3") {
      if (licence.suspendedBy === "nonpayment" || this.today() > licence.expiredate) {
        throw new SandboxError(
          "access",
          "soft.resume",
          `The licence expired on ${licence.expiredate}; renew it to resume it`,
          licence.id,
        );
      }
      licence.status = "2";
      licence.suspendedBy = null;
    }
    this.changed(licence);
    return copy(licence);
  }

  delete(elid: string | undefined): Licence {
    this.refresh();
    const licence = this.live(elid);
    licence.status = "4";
    this.changed(licence);
    return copy(licence);
  }

  // ---- direct access for tests and the control endpoint -------------------------------------

  /** Puts a licence into the book as it would be at the vendor, without charging anything. */
  seed(input: SeedInput): Licence {
    this.refresh();
    const product = knownProduct(this.products, input.pricelist);
    const ip = storedIp(validIp(input.ip), this.quirkSet);
    const licname = storedName(validName(input.licname), this.quirkSet);
    const period = validSeedPeriod(product, input.period ?? periodsOf(product)[0] ?? 1);
    const status = validStatus(input.status ?? "2");
    const nodes = validSeedNodes(product, input.nodes);
    const id = validLicenceId(input.id ?? String(this.nextId));
    if (this.licences.has(id)) throw new SandboxError("exists", "id", "A licence with this id exists", id);
    const createdate = input.createdate ?? this.today();
    const expiredate = input.expiredate ?? addMonths(createdate, period);
    validDates([
      ["createdate", createdate],
      ["expiredate", expiredate],
      ["ip_change_date", input.ip_change_date || createdate],
      ["lickey_change_date", input.lickey_change_date || createdate],
    ]);
    validKey(input.key);
    if (input.remoteip) validIp(input.remoteip, "remoteip");
    if (status !== "4") this.assertIpFree(ip, product.pricelist);
    const readyAt = status === "5" ? this.now().getTime() + this.provisionMs : null;
    const key = input.key ?? (status === "1" || status === "5" ? "" : newLicenceKey());
    const licence: Licence = {
      id,
      licname,
      ip,
      pricelist: product.pricelist,
      nodes,
      period,
      autoprolong: validAutoprolong(input.autoprolong ?? undefined),
      status,
      createdate,
      expiredate,
      key,
      remoteip: input.remoteip ?? (key ? ip : ""),
      ip_change_date: input.ip_change_date ?? "",
      lickey_change_date: input.lickey_change_date ?? (key ? createdate : ""),
      suspendedBy:
        status === "3" ? (input.suspendedBy ?? (this.today() > expiredate ? "nonpayment" : "user")) : null,
      readyAt,
      keyAt: readyAt,
    };
    this.licences.set(id, licence);
    this.byId = undefined;
    this.nextSweepMs = Math.min(this.nextSweepMs, nextEventMs(licence));
    this.nextId = Math.max(this.nextId, Number(id) + 1);
    return copy(licence);
  }

  /** Removes a licence from the book entirely, as if the vendor had purged it from the list. */
  vanish(id: string): boolean {
    this.byId = undefined;
    return this.licences.delete(id);
  }

  snapshot(): {
    now: string;
    today: IsoDate;
    balanceMinor: number;
    balance: string;
    currency: string;
    chargedMinor: number;
    charges: Charge[];
    quirks: Quirks;
    licences: Licence[];
  } {
    const licences = this.list();
    return {
      now: this.now().toISOString(),
      today: this.today(),
      balanceMinor: this.balance,
      balance: `${formatMinor(this.balance)} ${this.currency}`,
      currency: this.currency,
      chargedMinor: this.chargedTotal,
      charges: this.charges(),
      quirks: this.quirks,
      licences,
    };
  }

  // ---- internals ----------------------------------------------------------------------------

  /** Applies everything the clock has made due: keys issued, unpaid licences suspended, then deleted. */
  private refresh(): void {
    const nowMs = this.now().getTime();
    if (nowMs < this.nextSweepMs) return;
    const today = toIsoDate(new Date(nowMs));
    let next = Number.POSITIVE_INFINITY;
    for (const licence of this.licences.values()) {
      this.sweep(licence, nowMs, today);
      next = Math.min(next, nextEventMs(licence));
    }
    this.nextSweepMs = next;
  }

  /**
   * A status or an expiry of this licence changed, which may bring its next event forward: the next
   * sweep comes no later than that event. Only its own events moved, so the rest of the book is not
   * swept for it (a full sweep of 10,000 licences after every renewal cost the watcher's benchmark
   * ~70 ms of CPU per renewal, in the same process as the watcher it measures).
   */
  private changed(licence: Licence): void {
    this.nextSweepMs = Math.min(this.nextSweepMs, nextEventMs(licence));
  }

  private sweep(licence: Licence, nowMs: number, today: IsoDate): void {
    if (licence.status === "4") return;
    if (licence.readyAt !== null && nowMs >= licence.readyAt) {
      licence.readyAt = null;
      if (licence.status === "5") licence.status = "2";
    }
    if (licence.keyAt !== null && nowMs >= licence.keyAt) {
      if (!licence.key) {
        licence.key = newLicenceKey();
        licence.lickey_change_date = toIsoDate(new Date(licence.keyAt));
      }
      // The sandbox has no panels to phone home; assume the first check-in came from the licensed IP.
      licence.remoteip ||= licence.ip;
      licence.keyAt = null;
    }
    if (licence.status === "2" && today > licence.expiredate) {
      licence.status = "3";
      licence.suspendedBy = "nonpayment";
    }
    if (licence.status !== "5" && today >= addDays(licence.expiredate, DELETE_AFTER_DAYS)) {
      licence.status = "4";
    }
  }

  private mustGet(id: string): Licence {
    const licence = this.licences.get(id);
    if (!licence) throw new Error(`licence ${id} vanished`);
    return licence;
  }

  private live(elid: string | undefined): Licence {
    if (elid === undefined || elid === "") throw new SandboxError("missed", "elid", "Object not found", "");
    if (!/^\d+$/.test(elid)) throw new SandboxError("value", "elid", "Invalid object id", elid);
    const licence = this.licences.get(elid);
    if (!licence || licence.status === "4")
      throw new SandboxError("missed", "elid", "Object not found", elid);
    return licence;
  }

  /** No other live licence of this product line on the IP (another line's may share it). */
  private assertIpFree(ip: string, pricelist: string, exceptId?: string): void {
    const wanted = canonicalIp(ip);
    const line = generationOf(this.products.get(pricelist));
    for (const licence of this.licences.values()) {
      if (
        licence.status !== "4" &&
        licence.id !== exceptId &&
        canonicalIp(licence.ip) === wanted &&
        generationOf(this.products.get(licence.pricelist)) === line
      ) {
        throw new SandboxError("exists", "ip", "A license for this IP address already exists", ip);
      }
    }
  }

  /** Debits the account and logs the charge; refuses, changing nothing, when the balance is short. */
  private charge(func: Charge["func"], elid: string, amountMinor: number): void {
    assertAffordable(amountMinor, this.balance, this.currency);
    this.balance -= amountMinor;
    this.chargedTotal += amountMinor;
    this.chargeLog.push({ func, elid, amountMinor, at: this.now().toISOString() });
  }
}

/** When the clock next changes this licence: its key is issued, it lapses unpaid, or it is deleted. */
function nextEventMs(licence: Licence): number {
  if (licence.status === "4") return Number.POSITIVE_INFINITY;
  const dayStart = (date: IsoDate) => Date.parse(`${date}T00:00:00Z`);
  const events = [licence.readyAt ?? Number.POSITIVE_INFINITY, licence.keyAt ?? Number.POSITIVE_INFINITY];
  if (licence.status === "2") events.push(dayStart(addDays(licence.expiredate, 1)));
  if (licence.status !== "5") events.push(dayStart(addDays(licence.expiredate, DELETE_AFTER_DAYS)));
  return Math.min(...events);
}
