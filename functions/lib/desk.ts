import { billingClientFromConfig } from "../../shared/adapters/billmgr/index.ts";
import { idempotencySettings, readBillmgrConfig } from "../../shared/config.ts";
import { loadCatalogue } from "../../shared/domain/catalogue/catalogue.ts";
import { licenceDesk } from "../../shared/domain/licences/desk.ts";
import { settleOutcome, type Verdict } from "../../shared/domain/licences/operator.ts";
import { now, nowMs } from "./clock.ts";
import { config } from "./config.ts";
import { vendorCallFigures } from "./figures.ts";
import { publishingEach } from "./metrics.ts";
import { register } from "./register.ts";

/**
 * Built once per container: the vendor client (its keep-alive pool), the catalogue, the register, and the
 * clock of locks, leases and settle windows (the real time in Lambda; tests move it: clock.ts).
 */
export const deskDeps = {
  billing: billingClientFromConfig(readBillmgrConfig(), { onCall: vendorCallFigures }),
  register,
  catalogue: loadCatalogue(config.CATALOGUE_JSON),
  idempotency: idempotencySettings(config),
  nowMs,
};

/**
 * The licence desk acting for one API client at this moment. `deadlineMs` bounds its vendor calls so
 * that an unknown outcome is recorded before the Lambda is stopped. Its use case publishes the request's
 * metrics when it ends.
 */
export function deskFor(client: string, deadlineMs?: number) {
  return publishingEach(licenceDesk(deskDeps, { client, now: now(), deadlineMs }));
}

/**
 * What an operator (a client named in OPERATOR_CLIENTS) does about money calls the evidence cannot
 * decide, at this moment; `deadlineMs` bounds the vendor reads of a settlement like any request's.
 */
export function operatorDeskFor(client: string, deadlineMs?: number) {
  return publishingEach({
    settle: (verdict: Verdict) =>
      settleOutcome(deskDeps, config.OPERATOR_CLIENTS, { client, now: now(), deadlineMs }, verdict),
  });
}
