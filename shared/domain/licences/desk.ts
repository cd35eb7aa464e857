import type { IdempotencyRecord } from "../ports/intent-store.ts";
import type { LicenceRecord } from "../ports/licence-store.ts";
import { changeProduct } from "./change-product.ts";
import { licenceChanges } from "./changes.ts";
import { type Caller, type DeskDeps, deskContext } from "./context.ts";
import type { ChangeProductInput, OrderInput, RenewInput, SuccessorInput } from "./inputs.ts";
import { orderLicence } from "./order.ts";
import type { MoneyResult } from "./outcome-model.ts";
import { type RenewOptions, renewLicence } from "./renew.ts";
import { type Retirement, retireSucceeded } from "./retire.ts";
import { settleIntent } from "./settle.ts";
import { orderSuccessor } from "./successor.ts";

export type { Caller, DeskDeps } from "./context.ts";
export type { MoneyResult } from "./outcome-model.ts";

/**
 * The licence desk's use cases for one caller at one moment: what each HTTP route (and the watcher's
 * renewals) does, without HTTP. Money moves only through the outcome model (`outcome-model.ts`).
 */
export function licenceDesk(deps: DeskDeps, caller: Caller) {
  const ctx = deskContext(deps, caller);
  return {
    order: (body: OrderInput, key: string): Promise<MoneyResult> => orderLicence(ctx, body, key),
    renew: (id: string, body: RenewInput, key: string, options?: RenewOptions): Promise<MoneyResult> =>
      renewLicence(ctx, id, body, key, options),
    /** A licence of a later generation on the same IP (ISPmanager 5 to 6), bought as an order is. */
    successor: (id: string, body: SuccessorInput, key: string): Promise<MoneyResult> =>
      orderSuccessor(ctx, id, body, key),
    /** Another tariff of the licence's own product line, charged by the vendor (`service.changepricelist`). */
    changeProduct: (id: string, body: ChangeProductInput, key: string): Promise<MoneyResult> =>
      changeProduct(ctx, id, body, key),
    /** A succeeded licence retired (deleted at the vendor), once, while its successor runs. */
    retireSucceeded: (id: string, deleted?: (licence: LicenceRecord) => Promise<void>): Promise<Retirement> =>
      retireSucceeded(ctx, id, deleted),
    /** An intent of this caller's found on a list: settled on its record, never sent (`settle.ts`). */
    settle: (record: IdempotencyRecord): Promise<MoneyResult | undefined> => settleIntent(ctx, record),
    ...licenceChanges(ctx),
  };
}

export type LicenceDesk = ReturnType<typeof licenceDesk>;
