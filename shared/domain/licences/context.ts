import type { Catalogue, Product } from "../catalogue/catalogue.ts";
import { periodProblem, productProblem } from "../catalogue/rules.ts";
import { type IsoDate, toIsoDate } from "../dates.ts";
import type { AuditEntry } from "../ports/audit-log.ts";
import type { BillingClient } from "../ports/billing.ts";
import type { IntentRef } from "../ports/intent-store.ts";
import type { LicenceRecord } from "../ports/licence-store.ts";
import type { Register } from "../ports/register.ts";
import { DeadlineNearError, NotFoundError, ValidationError } from "./errors.ts";
import { auditOutcome } from "./failed-calls.ts";
import { answerTtlSeconds, type IdempotencySettings } from "./idempotency-settings.ts";
import type { MoneyIntent } from "./outcome-model.ts";
import { retried } from "./retried.ts";

export interface DeskDeps {
  billing: BillingClient;
  register: Register;
  catalogue: Catalogue;
  idempotency: IdempotencySettings;
  /**
   * Epoch ms for locks, leases and settle windows (`Date.now` unless a test moves time). Request
   * deadlines are not on it: they measure the real time a Lambda has left.
   */
  nowMs?: () => number;
}

/** Who is asking, and when: every decision takes the date as input. */
export interface Caller {
  client: string;
  now: Date;
  /**
   * The business day of the request, for the lifecycle checks: the watcher's night in its schedule's
   * zone. The UTC date of `now` where not given (the API's requests).
   */
  today?: IsoDate | undefined;
  /**
   * Epoch ms by which this request's vendor calls must be done, leaving time to record an unknown
   * outcome before the Lambda is stopped; none for the watcher's own long night.
   */
  deadlineMs?: number | undefined;
}

type AuditParams = AuditEntry["params"];

/** What every use case of the desk works with: its dependencies, its caller, and a few shared steps. */
export interface DeskContext extends DeskDeps {
  nowMs: () => number;
  caller: Caller;
  today: IsoDate;
  /** For every vendor call of this request. */
  vendorOptions: { deadlineMs?: number };
  /** `licenceId` may come from the answer (a new order's id), so its audit entry names the licence. */
  audited<T>(
    operation: string,
    licenceId: string | undefined | ((result: T) => string | undefined),
    params: AuditParams,
    call: () => Promise<T>,
  ): Promise<T>;
  stored(id: string): Promise<LicenceRecord>;
  productOf(id: string, field?: string): Product;
  checkPeriod(product: Product, period: number): void;
  intent(operation: string, key: string, request: unknown): MoneyIntent & { ref: IntentRef };
  /** Right before a money call: refuses (nothing sent) when the request's budget cannot hold it. */
  checkTimeForMoneyCall(operation: string): void;
}

/** A money call is sent only with this much of the request's budget left: it must be able to answer. */
export const MIN_MONEY_CALL_MS = 4000;

export function deskContext(deps: DeskDeps, caller: Caller): DeskContext {
  const { register, catalogue } = deps;
  const nowMs = deps.nowMs ?? Date.now;
  return {
    ...deps,
    nowMs,
    caller,
    today: caller.today ?? toIsoDate(caller.now),
    vendorOptions: caller.deadlineMs === undefined ? {} : { deadlineMs: caller.deadlineMs },

    /** Every vendor call lands in the audit trail; a failed audit write is retried and logged, never the answer. */
    async audited(operation, licenceId, params, call) {
      const started = performance.now();
      let outcome: AuditEntry["outcome"] = "ok";
      let error: string | undefined;
      let id = typeof licenceId === "function" ? undefined : licenceId;
      try {
        const result = await call();
        if (typeof licenceId === "function") id = licenceId(result);
        return result;
      } catch (e) {
        [outcome, error] = auditOutcome(e);
        throw e;
      } finally {
        const entry: AuditEntry = {
          at: new Date(nowMs()).toISOString(),
          client: caller.client,
          operation,
          licenceId: id,
          params,
          outcome,
          error,
          durationMs: Math.round(performance.now() - started),
        };
        await retried(`audit ${operation}`, () => register.audit.record(entry)).catch(() => {});
      }
    },

    async stored(id) {
      const record = await register.licences.get(id);
      if (!record) throw new NotFoundError(`licence ${id}`);
      return record;
    },

    productOf(id, field = "product") {
      const product = catalogue.byId(id);
      if (!product) throw new ValidationError({ [field]: productProblem(catalogue, id) ?? "" });
      return product;
    },

    checkPeriod(product, period) {
      const problem = periodProblem(product, period);
      if (problem !== undefined) throw new ValidationError({ period: problem });
    },

    checkTimeForMoneyCall(operation) {
      if (caller.deadlineMs !== undefined && caller.deadlineMs - Date.now() < MIN_MONEY_CALL_MS)
        throw new DeadlineNearError(operation);
    },

    intent(operation, key, request) {
      return {
        operation,
        store: register.idempotency,
        settings: { ...deps.idempotency, ttlSeconds: answerTtlSeconds(deps.idempotency, caller.client) },
        ref: { scope: caller.client, key },
        request,
        nowMs,
      };
    },
  };
}
