import type { BillmgrConfig } from "../../config.ts";
import type { BillingClient } from "../../domain/ports/billing.ts";
import { type CredentialsProvider, staticCredentials } from "../../domain/ports/credentials.ts";
import { ssmCredentials } from "../ssm-credentials.ts";
import { createBillingClient } from "./client.ts";
import { createTransport, type TransportOptions } from "./transport.ts";

export type * from "../../domain/ports/billing.ts";
export * from "../../domain/ports/billing-errors.ts";
export * from "./client.ts";

/** SSM in AWS (BILLMGR_CREDENTIALS_PARAM), the environment locally (BILLMGR_CREDENTIALS). */
export function credentialsFromConfig(config: BillmgrConfig): CredentialsProvider {
  if (config.BILLMGR_CREDENTIALS_PARAM) {
    return ssmCredentials({
      parameterName: config.BILLMGR_CREDENTIALS_PARAM,
      maxAgeSeconds: config.BILLMGR_CREDENTIALS_TTL_SECONDS,
    });
  }
  if (config.BILLMGR_CREDENTIALS) return staticCredentials(config.BILLMGR_CREDENTIALS);
  throw new Error("no vendor credentials: set BILLMGR_CREDENTIALS_PARAM (SSM) or BILLMGR_CREDENTIALS");
}

export function billingClientFromConfig(
  config: BillmgrConfig,
  overrides: Partial<Pick<TransportOptions, "credentials" | "dispatcher" | "onCall">> = {},
): BillingClient {
  const transport = createTransport({
    url: config.BILLMGR_URL,
    credentials: overrides.credentials ?? credentialsFromConfig(config),
    timeoutMs: config.BILLMGR_TIMEOUT_MS,
    retries: config.BILLMGR_RETRIES,
    retryBaseMs: config.BILLMGR_RETRY_BASE_MS,
    format: config.BILLMGR_FORMAT,
    dispatcher: overrides.dispatcher,
    onCall: overrides.onCall,
  });
  return createBillingClient(transport, {
    pageSize: config.BILLMGR_PAGE_SIZE,
    balanceFunc: config.BILLMGR_BALANCE_FUNC,
  });
}
