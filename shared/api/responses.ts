import * as v from "valibot";
import type { OpenOutcome, SettledOutcome } from "../domain/licences/operator.ts";
import type { LicenceRecord } from "../domain/ports/licence-store.ts";

/** The licence as the API answers it: for the OpenAPI document; the compiler keeps it equal to LicenceRecord. */
export const Licence = v.object({
  id: v.string(),
  name: v.string(),
  ip: v.string(),
  product: v.optional(v.string()),
  pricelist: v.string(),
  period: v.optional(v.number()),
  nodes: v.optional(v.number()),
  status: v.picklist(["ordered", "active", "suspended", "deleted", "processing", "unknown"]),
  statusCode: v.string(),
  expiresOn: v.optional(v.string()),
  createdOn: v.optional(v.string()),
  key: v.optional(v.string()),
  autoRenew: v.nullable(v.picklist([1, 12])),
  syncedAt: v.optional(v.string()),
  /**
   * When the desk last wrote vendor fields from its own calls (a rename, a new key, a suspend, a
   * renewal; `form`: a refresh or an order's answer): the night's sync never overwrites them with a view
   * of the vendor read before.
   */
  deskWrites: v.optional(
    v.object({
      name: v.optional(v.string()),
      ip: v.optional(v.string()),
      key: v.optional(v.string()),
      status: v.optional(v.string()),
      expiresOn: v.optional(v.string()),
      pricelist: v.optional(v.string()),
      form: v.optional(v.string()),
    }),
  ),
  updatedAt: v.string(),
  goneSince: v.optional(v.string()),
  /** The night the nightly sync first found it at the vendor (not set for one ordered or refreshed here). */
  syncAddedOn: v.optional(v.string()),
  /** The last night the nightly sync found it changed at the vendor. */
  syncChangedOn: v.optional(v.string()),
  /** The night the desk first saw it suspended at the vendor while it still ran (never renewed as a lapse). */
  suspendedOn: v.optional(v.string()),
  /**
   * Its form (key, nodes) is not read yet: written from the vendor's list row (or an order's facts);
   * the watcher reads it as its nights' time allows, those waiting longest first.
   */
  formPending: v.optional(v.boolean()),
  /** Set while the licence is suspended on purpose through this API: the watcher never renews it. */
  suspendedBy: v.optional(v.literal("desk")),
  /** The licence this one succeeds (ordered through `POST /licenses/{id}/successor`). */
  predecessorId: v.optional(v.string()),
  /** The licence ordered to succeed this one, on the same IP. */
  successorId: v.optional(v.string()),
  /** What becomes of this licence once its successor is placed. */
  retireOld: v.optional(v.picklist(["after_expiry", "now", "never"])),
  /** The day the desk deleted it at the vendor, its successor placed. */
  retiredOn: v.optional(v.string()),
  /** A successor the watcher orders on a night (`orderedOn` once it has); null: none planned, by choice. */
  successorPlan: v.optional(
    v.nullable(
      v.object({
        period: v.picklist([1, 12]),
        product: v.optional(v.string()),
        on: v.optional(v.string()),
        retireOld: v.picklist(["after_expiry", "now", "never"]),
        orderedOn: v.optional(v.string()),
      }),
    ),
  ),
  /** Bumped by every write of the record. */
  version: v.optional(v.number()),
});

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const inStep: Same<v.InferOutput<typeof Licence>, LicenceRecord> = true;
void inStep;

export const LicencePage = v.object({ items: v.array(Licence), cursor: v.nullable(v.string()) });
export const NewKey = v.object({ id: v.string(), key: v.optional(v.string()) });
export const IpAvailability = v.object({ available: v.boolean(), reason: v.optional(v.string()) });

/** One open money call as an operator reads it (`shared/domain/licences/operator.ts`). */
const OpenOutcomeSchema = v.object({
  client: v.string(),
  key: v.string(),
  operation: v.picklist(["order", "renew", "successor", "change-product"]),
  licenceId: v.optional(v.string()),
  request: v.optional(v.record(v.string(), v.unknown())),
  sentAt: v.optional(v.string()),
  state: v.picklist(["undecided", "unknown", "applied"]),
  reason: v.optional(v.string()),
  undecidedSince: v.optional(v.string()),
});
export const OutcomeList = v.object({ items: v.array(OpenOutcomeSchema) });

/** A settled call, and the answer its client's next retry with the key receives. */
export const Settlement = v.object({
  client: v.string(),
  key: v.string(),
  operation: v.picklist(["order", "renew", "successor", "change-product"]),
  outcome: v.picklist(["applied", "not_applied"]),
  answer: v.object({ statusCode: v.number(), body: v.unknown() }),
});

// What the domain answers fits what the document says (its `undefined` fields are left out of the JSON).
type Fits<A, B> = [A] extends [B] ? true : never;
const outcomesInStep: [
  Fits<
    Omit<OpenOutcome, "operation" | "request">,
    Omit<v.InferOutput<typeof OpenOutcomeSchema>, "operation" | "request">
  >,
  Fits<
    Omit<SettledOutcome, "operation" | "answer">,
    Omit<v.InferOutput<typeof Settlement>, "operation" | "answer">
  >,
] = [true, true];
void outcomesInStep;
