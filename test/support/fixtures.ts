import { setTimeout } from "node:timers/promises";
import { inject } from "vitest";
import { LOCAL_AWS_ENV } from "../../local/aws-env.ts";
import { loadCatalogue, type Product } from "../../shared/domain/catalogue/catalogue.ts";
import type { LicenceRecord } from "../../shared/domain/ports/licence-store.ts";
import { VENDOR_CREDENTIALS } from "./secrets.ts";

/**
 * What many test files build the same way: the catalogue's products and their vendor pricelists, a
 * register record, an order body, the functions' environment, and the one way to wait real time.
 */

/** The catalogue as shipped (shared/domain/catalogue/products.json). */
export const catalogue = loadCatalogue();

function product(id: string): Product {
  const found = catalogue.byId(id);
  if (!found) throw new Error(`no product ${id} in the shipped catalogue`);
  return found;
}

/** ISPmanager 5 Lite (1 or 12 months) and Business (12 months), as the catalogue ships them. */
export const LITE = product("ispmanager5-lite");
export const BUSINESS = product("ispmanager5-business");

/** Their vendor pricelists. */
export const PRICELIST = { lite: LITE.pricelist, business: BUSINESS.pricelist } as const;

/**
 * A register record of an active one-month Lite licence, whose every field a test may override; a test
 * that reads a field says so with an override rather than relying on a default here.
 */
export function licenceRecord(overrides: Partial<LicenceRecord> = {}): LicenceRecord {
  const id = overrides.id ?? "2512171";
  return {
    id,
    name: `web-${id}`,
    ip: "82.156.37.16",
    product: LITE.id,
    pricelist: PRICELIST.lite,
    period: 1,
    status: "active",
    statusCode: "2",
    expiresOn: "2021-06-16",
    createdOn: "2021-05-16",
    key: "AAAA-BBBB-CCCC",
    autoRenew: null,
    syncedAt: "2021-05-20T02:00:00.000Z",
    updatedAt: "2021-05-20T02:00:01.000Z",
    ...overrides,
  };
}

let ipCounter = 1;
/** A fresh IP per order: the vendor licenses an IP once. */
export function freshIp(): string {
  ipCounter++;
  return `10.${Math.floor(ipCounter / 250) % 250}.${ipCounter % 250}.${(process.pid % 200) + 1}`;
}

/** A `POST /licenses` body: one month of Lite on a fresh IP. */
export function liteOrder(extra: Record<string, unknown> = {}) {
  return { ip: freshIp(), name: "web-1", product: LITE.id, period: 1, ...extra };
}

/**
 * The functions' environment against a vendor (a sandbox's URL, the suite's credentials) and a register
 * table on DynamoDB Local, as the handler modules read it at import. A failed vendor read is retried at
 * once (`BILLMGR_RETRY_BASE_MS`): no test waits out the shipped backoff.
 */
export function handlerEnv(options: { vendorUrl: string; table: string }): Record<string, string> {
  return {
    ...LOCAL_AWS_ENV,
    TABLE_NAME: options.table,
    DYNAMODB_ENDPOINT: inject("dynamodbEndpoint"),
    BILLMGR_URL: options.vendorUrl,
    BILLMGR_CREDENTIALS: VENDOR_CREDENTIALS,
    BILLMGR_RETRY_BASE_MS: "1",
  };
}

/**
 * Real time passing, for what only real time can show: a process of its own (`npm start`) that a test
 * kills, a vendor client's timers and deadlines, the sandbox's own delays. Settle windows, locks and
 * leases are never waited for: tests move the desk's clock (`apiHarness().advance`, `watchHarness().advance`).
 */
export const sleep = (ms: number): Promise<void> => setTimeout(ms);
