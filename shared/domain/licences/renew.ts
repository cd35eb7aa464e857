import { type Product, renewalsOpen } from "../catalogue/catalogue.ts";
import type { IsoDate } from "../dates.ts";
import { type LicenceDetails, statusFromCode } from "../ports/billing.ts";
import type { LicenceChanges, LicenceRecord } from "../ports/licence-store.ts";
import { retiring, suspensionMark } from "../renewal/renewal-rules.ts";
import type { DeskContext } from "./context.ts";
import { AlreadyAtCapError, LifecycleClosedError, RenewalNotWantedError } from "./errors.ts";
import { atCap, expectedExpiry } from "./expiry.ts";
import { isMissed } from "./failed-calls.ts";
import type { RenewInput } from "./inputs.ts";
import { holdForRenewal } from "./licence-hold.ts";
import {
  type Evidence,
  type MoneyCall,
  type MoneyOperation,
  type MoneyResult,
  notApplied,
  runMoneyIntent,
} from "./outcome-model.ts";
import { recordFromVendor } from "./records.ts";
import { retried } from "./retried.ts";
import { tellUndecided } from "./staff-alerts.ts";
import { updateAtVersion } from "./update-at-version.ts";

export interface RenewOptions {
  /** The watcher's renewals: re-checked against the register right before sending. */
  onlyIfAutoRenew?: boolean;
  /**
   * The watcher's renewals: the expiry the night planned from. The vendor's own form, read right before
   * sending, must still show it, and the licence running there: renewed elsewhere meanwhile (an expiry
   * past it), suspended before its expiry, or deleted, it is not renewed (and the register told so).
   */
  plannedFrom?: IsoDate | undefined;
}

/**
 * `POST /licenses/{id}/renew` and the watcher's renewals: one renewal per Idempotency-Key, and one in
 * flight per licence (API and watcher alike), so a renewal is never mistaken for another. The evidence
 * of an unanswered renewal is the exact expiry it leads to.
 */
export async function renewLicence(
  ctx: DeskContext,
  id: string,
  body: RenewInput,
  key: string,
  options: RenewOptions = {},
): Promise<MoneyResult> {
  const record = await ctx.stored(id);
  const { intent, operation } = renewCall(ctx, id, body, key, options, record);
  return runMoneyIntent(intent, operation);
}

/**
 * A renewal as the outcome model runs it: sent by `renewLicence` (which read the licence first, for its
 * not-found), settled from its record by the reconciler (which needs no licence record to do so).
 */
export function renewCall(
  ctx: DeskContext,
  id: string,
  body: RenewInput,
  key: string,
  options: RenewOptions = {},
  stored?: LicenceRecord,
): MoneyCall {
  const intent = ctx.intent("renew", key, { operation: "renew", id, body });
  const holds = ctx.register.idempotency;

  const operation: MoneyOperation = {
    async prepare() {
      const record = stored ?? (await ctx.stored(id));
      const product = ctx.catalogue.byPricelist(record.pricelist);
      if (product) checkRenewable(ctx, product, id, body.period, record.expiresOn);
      await holdForRenewal(ctx, id, intent.ref);
      if (options.onlyIfAutoRenew) await checkStillWanted(ctx, id);
      // The vendor's expiry right before the renewal is what the evidence is measured from.
      const readFrom = new Date(ctx.nowMs()).toISOString();
      const details = await ctx
        .audited("get", id, { id }, () => ctx.billing.get(id, ctx.vendorOptions))
        .catch(async (error: unknown) => {
          // The vendor answers `missed` for a licence it deleted: the watcher does not renew it.
          if (options.onlyIfAutoRenew && isMissed(error))
            await checkVendorView(ctx, record, { ...record, status: "deleted", statusCode: "4" }, readFrom);
          throw error;
        });
      const before = recordFromVendor(details, ctx.catalogue, record.autoRenew, ctx.caller.now);
      if (options.onlyIfAutoRenew) await checkVendorView(ctx, record, before, readFrom, options.plannedFrom);
      if (product) checkRenewable(ctx, product, id, body.period, before.expiresOn);
      const expiryBefore = before.expiresOn ?? ctx.today;
      ctx.checkTimeForMoneyCall("renew");
      return {
        // The reseller may switch autoRenew off, or the desk suspend it, until the moment it is sent.
        ...(options.onlyIfAutoRenew && { confirm: () => checkStillWanted(ctx, id) }),
        context: {
          licenceId: id,
          period: String(body.period),
          expiryBefore,
          expectedExpiry: expectedExpiry(product, expiryBefore, body.period, ctx.today),
          statusBefore: before.statusCode,
        },
        async send() {
          const { newExpiry } = await ctx.audited("renew", id, { id, period: body.period }, () =>
            ctx.billing.prolong(id, body.period, ctx.vendorOptions),
          );
          const facts: Record<string, string> = newExpiry ? { newExpiry } : {};
          return facts;
        },
      };
    },
    applied: (facts, context) => renewedAnswer(ctx, id, facts, context),
    reconcile: (context) => renewalEvidence(ctx, id, context),
    released: () => holds.freeLicence(id, intent.ref),
    kept: () => holds.freeLicence(id, intent.ref),
    undecided: (evidence, record) => tellUndecided(ctx, record, evidence),
  };
  return { intent, operation };
}

function checkRenewable(
  ctx: DeskContext,
  product: Product,
  id: string,
  period: number,
  expiresOn: string | undefined,
): void {
  ctx.checkPeriod(product, period);
  if (!renewalsOpen(product, ctx.today)) {
    throw new LifecycleClosedError(product.id, "renew", product.lifecycle.renewalsCloseOn ?? "", ctx.today);
  }
  const cap = atCap(product, expiresOn, ctx.today);
  if (cap && expiresOn) throw new AlreadyAtCapError(product, id, expiresOn, cap, ctx.today);
}

/** The night decided from its sync; a reseller may have changed the licence since. */
async function checkStillWanted(ctx: DeskContext, id: string): Promise<void> {
  const now = await ctx.stored(id);
  if (now.autoRenew === null)
    throw new RenewalNotWantedError(id, "its automatic renewal was switched off", "switched_off");
  if (now.suspendedBy === "desk")
    throw new RenewalNotWantedError(id, "it was suspended on purpose through the API", "suspended_by_desk");
  if (retiring(now))
    throw new RenewalNotWantedError(
      id,
      `licence ${now.successorId} succeeds it on its IP, and it is to be retired`,
      "succeeded",
    );
}

/**
 * The watcher planned from the register; the vendor's form, read right before sending, decides. A
 * licence renewed elsewhere (in the vendor's panel), suspended there before its expiry, or deleted is
 * not renewed, and the register takes the vendor's view of it (stamped as a whole-form read, so the
 * night's summary and alerts tell what the vendor shows).
 */
async function checkVendorView(
  ctx: DeskContext,
  record: LicenceRecord,
  vendor: LicenceRecord,
  readFrom: string,
  plannedFrom?: IsoDate,
): Promise<void> {
  const { id } = record;
  const expiry = vendor.expiresOn;
  let refusal: RenewalNotWantedError | undefined;
  if (vendor.status === "deleted") {
    refusal = new RenewalNotWantedError(id, "the vendor shows it deleted", "deleted_at_vendor");
  } else if (vendor.status === "suspended" && (expiry === undefined || expiry >= ctx.today)) {
    refusal = new RenewalNotWantedError(
      id,
      `the vendor's form shows it suspended before its expiry${expiry ? ` (${expiry})` : ""}, and the desk did not suspend it`,
      "suspended_at_vendor",
    );
  } else if (plannedFrom !== undefined && expiry !== undefined && expiry > plannedFrom) {
    refusal = new RenewalNotWantedError(
      id,
      `it was renewed elsewhere: the vendor's form shows it running to ${expiry}, where tonight's renewal was planned from ${plannedFrom}`,
      "renewed_elsewhere",
    );
  }
  if (!refusal) return;
  const seen: LicenceChanges = {
    status: vendor.status,
    statusCode: vendor.statusCode,
    ...(vendor.expiresOn !== undefined && { expiresOn: vendor.expiresOn }),
    ...(vendor.period !== undefined && { period: vendor.period }),
    ...suspensionMark(record, vendor, ctx.today),
    deskWrites: { form: readFrom },
  };
  await retried(`store the vendor's view of ${id}`, () => ctx.register.licences.update(id, seen)).catch(
    () => {},
  );
  throw refusal;
}

/** The licence after an applied renewal. The money moved: a missing expiry or a failed write never changes that. */
async function renewedAnswer(
  ctx: DeskContext,
  id: string,
  facts: Record<string, string>,
  context: Record<string, string>,
): Promise<LicenceRecord> {
  let expiresOn = facts.newExpiry;
  let confirmed = expiresOn !== undefined;
  // A renewal reactivates a licence the vendor suspended for non-payment, not one suspended on purpose
  // (in its panel): only the vendor's form says which, so one suspended before is read again.
  const wasSuspended = statusFromCode(context.statusBefore) === "suspended";
  let status: Pick<LicenceRecord, "status" | "statusCode"> | undefined = wasSuspended
    ? undefined
    : { status: "active", statusCode: "2" };
  if (!confirmed || wasSuspended) {
    // The answer left the date out, or the status is in doubt: read them; failing that, say what the
    // renewal leads to, and leave the status to the next sync.
    try {
      const details = await ctx.audited("get", id, { id }, () => ctx.billing.get(id, ctx.vendorOptions));
      expiresOn = details.expiresOn ?? expiresOn;
      confirmed = expiresOn !== undefined;
      status = { status: details.status, statusCode: details.statusCode };
    } catch {
      expiresOn ??= context.expectedExpiry;
      // Unread, a licence suspended after its expiry (the vendor's suspension for non-payment) is taken
      // as resumed by the renewal, as the vendor does; one suspended while it ran keeps its status. Either
      // way its form is read again by the next sync.
      if (wasSuspended && (context.expiryBefore ?? "") < ctx.today)
        status = { status: "active", statusCode: "2" };
      confirmed = false;
    }
  }
  // The licence runs on the period last paid for, as the vendor form is taken to keep it (the sandbox does):
  // left at the order's, the next sync would see a difference and read the form for nothing.
  const period = Number(context.period);
  const wroteAt = new Date(ctx.nowMs()).toISOString();
  const renewed: LicenceChanges = {
    expiresOn,
    ...(period > 0 && { period }),
    deskWrites: { expiresOn: wroteAt },
    ...((!confirmed || status === undefined) && { formPending: true }),
  };
  // One suspended on purpose through the API (maybe while this renewal was at the vendor) keeps its
  // state. Written at the version read, so a suspend landing in between is read again, not overwritten.
  const store = (): Promise<LicenceRecord | undefined> =>
    updateAtVersion(ctx.register.licences, id, (current) => {
      // Already at or past this renewal's expiry (a later renewal or sync wrote it, and this answer is
      // replayed or settled late): an older view is never written over a newer one.
      if (expiresOn !== undefined && current.expiresOn !== undefined && current.expiresOn >= expiresOn)
        return undefined;
      if (current.suspendedBy === "desk" || status === undefined) return renewed;
      // Still suspended after the renewal: suspended on purpose in the vendor's panel, never renewed again.
      const mark = suspensionMark(current, { status: status.status, expiresOn }, ctx.today);
      return { ...renewed, ...status, ...mark, deskWrites: { expiresOn: wroteAt, status: wroteAt } };
    });
  const after = await retried(`store the renewal of ${id}`, store).catch(() => undefined);
  return (
    after ??
    ({ ...(await ctx.register.licences.get(id).catch(() => undefined)), id, ...renewed } as LicenceRecord)
  );
}

/** Was the unanswered renewal applied? Only the exact expiry it leads to says yes; the old one, no. */
async function renewalEvidence(
  ctx: DeskContext,
  id: string,
  context: Record<string, string>,
): Promise<Evidence> {
  const expiryBefore = context.expiryBefore ?? "";
  const expected = context.expectedExpiry ?? "";
  let details: LicenceDetails;
  try {
    details = await ctx.audited("reconcile-renew", id, { id }, () => ctx.billing.get(id, ctx.vendorOptions));
  } catch (error) {
    if (!isMissed(error)) throw error;
    // Deleted since: its expiry is gone with it, and only the account's charges can tell.
    return {
      kind: "undecided",
      staff: true,
      reason: `the vendor no longer knows licence ${id} (deleted since the renewal was sent), so its expiry cannot tell whether the renewal was charged`,
      facts: { licenceId: id, before: expiryBefore, expected, seen: "none: the licence is deleted" },
    };
  }
  if (details.expiresOn === expected) return { kind: "applied", facts: { newExpiry: expected } };
  if (details.expiresOn !== expiryBefore) {
    const seen = details.expiresOn ?? "unknown";
    return {
      kind: "undecided",
      // Reading again will not tell: someone else renewed it meanwhile, with or without this call.
      staff: true,
      reason: `the vendor's expiry of licence ${id} is ${seen}, neither ${expiryBefore} (before the renewal) nor ${expected} (the renewal applied)`,
      facts: { licenceId: id, before: expiryBefore, expected, seen },
    };
  }
  return notApplied(
    "renewal_not_applied",
    `the vendor's expiry is still ${expiryBefore}, well after the unanswered renewal was sent: it was not applied and nothing was charged; renew again with a new Idempotency-Key`,
    { expiresOn: expiryBefore },
  );
}
