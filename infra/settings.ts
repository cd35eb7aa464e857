import { Stack } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { readBillmgrConfig, readServiceConfig, readWatcherConfig } from "../shared/config.ts";
import { loadCatalogue } from "../shared/domain/catalogue/catalogue.ts";
import { skippedDay } from "./schedule-time.ts";

/**
 * Every deploy-time choice, read from CDK context (`cdk.json`, or `-c key=value` on the command line).
 * `cdk.json` repeats these defaults so they are visible in one place; a test keeps the two equal.
 * Nothing secret belongs here: the vendor password and the API token hashes live in SSM, and the
 * stack only ever knows their parameter names.
 */
export const DEFAULTS = {
  /** CloudWatch Logs retention of every function's log group and of the API's access log. */
  logRetentionDays: 90,
  /** Staff addresses subscribed to the alert topic (each must confirm the e-mail AWS sends). */
  alertEmails: [] as string[],
  /**
   * API clients (names from the token parameter) who may list and settle the money outcomes the evidence
   * cannot decide (`OPERATOR_CLIENTS`); none by default.
   */
  operatorClients: [] as string[],
  billmgrUrl: "https://api.ispmanager.com/manager/billmgr",
  /** SecureString holding `user:password` for the vendor. Created by hand, never by the stack. */
  vendorCredentialsParameter: "/licence-desk/billmgr-credentials",
  /** SecureString holding `{"<sha256 hex of token>": "<client name>"}`. Created by hand. */
  apiTokensParameter: "/licence-desk/api-tokens",
  /** ARN of the customer-managed KMS key encrypting both parameters; empty: the AWS-managed `aws/ssm`. */
  parameterKmsKeyArn: "",
  watcherSchedule: "cron(0 2 * * ? *)",
  /**
   * When a night a run left unfinished (forms still to read) is carried on: each of these runs reads
   * the night's record and returns at once when nothing is left. Keep it on the nightly run's date.
   */
  watcherContinueSchedule: "cron(20/20 2-5 * * ? *)",
  watcherTimezone: "UTC",
  apiStageName: "v1",
  /** Let the stack set the region's API Gateway CloudWatch Logs role (needed once per region for access logs). */
  apiGatewayCloudWatchRole: true,
  apiThrottleRate: 50,
  apiThrottleBurst: 100,
  /** How long API Gateway reuses an authorizer answer for one token (0 turns caching off). */
  authorizerCacheSeconds: 300,
  /** Alarm when 5xx answers exceed this share of requests (percent) over 5 minutes. */
  api5xxRatePercent: 5,
  /** Alarm when the authorizer fails more often than this in 5 minutes (a refused token counts too). */
  authorizerErrorThreshold: 10,
  /** Alarm when more than this share of vendor attempts fails (percent) in two 5-minute periods in a row. */
  vendorErrorRatePercent: 10,
  /**
   * Reserved concurrency of each API function that calls the vendor: at most this many of its requests at
   * the vendor at once (0: no reservation, no bound). See "Bounded load on the vendor" in the deploy guide.
   */
  vendorRouteConcurrency: 2,
  /** The watcher's leads and thresholds: the watcher's own defaults (shared/config.ts). */
  renewalLeadDays: 3,
  earlyRenewalDays: 7,
  expiryAlertDays: "14,7,3,1",
  lifecycleAlertDays: "30,14,7,1",
  balanceForecastDays: 30,
  expiringSoonDays: 30,
  vendorConcurrency: 4,
  registerConcurrency: 16,
  /** From this many alerts of one kind about single licences in a night, they go out as one digest e-mail. */
  alertDigestMin: 10,
  /** "on": the watcher plans a successor for every licence set to renew whose product has one. */
  planSuccessors: "off",
  /** Which nights mail a summary: nightly, changes, weekly, or changes_weekly (news, and every Monday). */
  summaryMails: "changes_weekly",
  /** How long a container trusts the password and the token hashes it read from SSM. */
  billmgrCredentialsTtlSeconds: 300,
  apiTokensTtlSeconds: 60,
  /** The product catalogue as JSON (shared/domain/catalogue/products.json's shape); empty: the built-in one. */
  catalogueJson: "",
  /** NODE_OPTIONS=--enable-source-maps on every function: TypeScript lines in stack traces, ~20 ms more init. */
  enableSourceMaps: false,
};

export type ContextKey = keyof typeof DEFAULTS;

export interface DeskSettings {
  logRetentionDays: number;
  alertEmails: string[];
  /** The clients of the operators' routes (`OPERATOR_CLIENTS`); empty: nobody may settle by hand. */
  operatorClients: string[];
  vendorCredentialsParameter: string;
  apiTokensParameter: string;
  parameterKmsKeyArn: string | undefined;
  watcherSchedule: string;
  watcherContinueSchedule: string;
  watcherTimezone: string;
  apiStageName: string;
  apiGatewayCloudWatchRole: boolean;
  apiThrottleRate: number;
  apiThrottleBurst: number;
  authorizerCacheSeconds: number;
  api5xxRatePercent: number;
  authorizerErrorThreshold: number;
  vendorErrorRatePercent: number;
  /** Reserved concurrency per vendor route; undefined: none (the account's pool). */
  vendorRouteConcurrency: number | undefined;
  /** Seconds a first request holds its idempotency key (the API functions' timeout must stay below). */
  idempotencyLockSeconds: number;
  /** Variables every function that calls the vendor gets (the credentials parameter name is added per function). */
  vendorEnvironment: Record<string, string>;
  /** Variables every function that reads the register gets (besides TABLE_NAME). */
  serviceEnvironment: Record<string, string>;
  /** The watcher's leads, thresholds and limits. */
  watcherEnvironment: Record<string, string>;
  /** The authorizer's cache of the token hashes. */
  apiTokensTtlSeconds: number;
  enableSourceMaps: boolean;
}

/** CloudWatch Logs accepts only these retention periods. */
const RETENTION_DAYS = new Set([
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
]);

const PARAMETER_NAME = /^\/?[A-Za-z0-9_.\-/]{1,2000}$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const EMAIL = /^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/;
const SCHEDULE = /^(cron|rate)\(.+\)$/;

/**
 * Reads and checks the context once. A bad value fails the synth with the key's name, before anything
 * reaches CloudFormation; the functions' own variables are checked with the very parsers the functions
 * use at start (shared/config.ts), so a value the code would refuse never deploys.
 */
export function readSettings(scope: Construct): DeskSettings {
  const raw = (key: ContextKey): unknown => {
    const value: unknown = scope.node.tryGetContext(key);
    return value === undefined || value === null ? DEFAULTS[key] : value;
  };
  const text = (key: ContextKey): string => {
    const value = raw(key);
    if (typeof value === "string") return value.trim();
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    if (key === "catalogueJson" && typeof value === "object") return JSON.stringify(value);
    throw new Error(`context ${key} must be a string`);
  };
  const whole = (key: ContextKey, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const value = text(key);
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
      throw new Error(`context ${key} must be a whole number from ${min} to ${max}`);
    return Number(value);
  };
  const matching = (key: ContextKey, pattern: RegExp, what: string): string => {
    const value = text(key);
    if (!pattern.test(value)) throw new Error(`context ${key} must be ${what}`);
    return value;
  };

  const flag = (key: ContextKey): boolean => {
    const value = text(key);
    if (value !== "true" && value !== "false") throw new Error(`context ${key} must be true or false`);
    return value === "true";
  };

  const logRetentionDays = whole("logRetentionDays", 1);
  if (!RETENTION_DAYS.has(logRetentionDays))
    throw new Error(`context logRetentionDays must be one of ${[...RETENTION_DAYS].join(", ")}`);

  const parameterKmsKeyArn = text("parameterKmsKeyArn");
  if (parameterKmsKeyArn !== "" && !KMS_KEY_ARN.test(parameterKmsKeyArn))
    throw new Error(
      "context parameterKmsKeyArn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)",
    );

  const vendorEnvironment = {
    BILLMGR_URL: matching("billmgrUrl", /^https:\/\/\S+$/, "an https:// URL"),
    BILLMGR_CREDENTIALS_TTL_SECONDS: String(whole("billmgrCredentialsTtlSeconds", 0)),
    // What calls the vendor reports metrics; Powertools names their series after the stack, so two stacks
    // in one account never mix figures (the dashboard and alarms read the same name).
    POWERTOOLS_SERVICE_NAME: Stack.of(scope).stackName,
  };
  const catalogue = text("catalogueJson");
  const serviceEnvironment: Record<string, string> = catalogue === "" ? {} : { CATALOGUE_JSON: catalogue };
  const watcherEnvironment = {
    RENEWAL_LEAD_DAYS: text("renewalLeadDays"),
    EARLY_RENEWAL_DAYS: text("earlyRenewalDays"),
    EXPIRY_ALERT_DAYS: text("expiryAlertDays"),
    LIFECYCLE_ALERT_DAYS: text("lifecycleAlertDays"),
    BALANCE_FORECAST_DAYS: text("balanceForecastDays"),
    EXPIRING_SOON_DAYS: text("expiringSoonDays"),
    VENDOR_CONCURRENCY: text("vendorConcurrency"),
    REGISTER_CONCURRENCY: text("registerConcurrency"),
    ALERT_DIGEST_MIN: text("alertDigestMin"),
    PLAN_SUCCESSORS: text("planSuccessors"),
    SUMMARY_MAILS: text("summaryMails"),
  };
  // The functions' own parsers: whatever they would refuse at start is refused here, at synth.
  readBillmgrConfig({ ...vendorEnvironment, BILLMGR_CREDENTIALS_PARAM: "/checked-at-synth" });
  readWatcherConfig(watcherEnvironment);
  const service = readServiceConfig({ ...serviceEnvironment, TABLE_NAME: "checked-at-synth" });
  if (catalogue !== "") {
    // Checked as the functions load it; Lambda allows 4 KB of variables per function in all.
    loadCatalogue(catalogue);
    if (Buffer.byteLength(catalogue) > 3000)
      throw new Error("context catalogueJson must stay under 3,000 bytes (Lambda's variables share 4 KB)");
  }

  return {
    logRetentionDays,
    alertEmails: emails(raw("alertEmails")),
    operatorClients: clientNames(raw("operatorClients")),
    vendorCredentialsParameter: matching(
      "vendorCredentialsParameter",
      PARAMETER_NAME,
      "an SSM parameter name",
    ),
    apiTokensParameter: matching("apiTokensParameter", PARAMETER_NAME, "an SSM parameter name"),
    parameterKmsKeyArn: parameterKmsKeyArn === "" ? undefined : parameterKmsKeyArn,
    ...schedule(
      matching("watcherSchedule", SCHEDULE, "a cron(...) or rate(...) expression"),
      matching("watcherTimezone", /^[A-Za-z0-9_+\-/]+$/, "an IANA time zone such as UTC"),
    ),
    watcherContinueSchedule: matching(
      "watcherContinueSchedule",
      SCHEDULE,
      "a cron(...) or rate(...) expression",
    ),
    apiStageName: matching("apiStageName", /^[A-Za-z0-9_]{1,128}$/, "letters, digits and underscores"),
    apiGatewayCloudWatchRole: flag("apiGatewayCloudWatchRole"),
    apiThrottleRate: whole("apiThrottleRate", 1),
    apiThrottleBurst: whole("apiThrottleBurst", 1),
    authorizerCacheSeconds: whole("authorizerCacheSeconds", 0, 3600),
    api5xxRatePercent: whole("api5xxRatePercent", 1, 100),
    authorizerErrorThreshold: whole("authorizerErrorThreshold", 1),
    vendorErrorRatePercent: whole("vendorErrorRatePercent", 1, 100),
    vendorRouteConcurrency: whole("vendorRouteConcurrency", 0, 1000) || undefined,
    idempotencyLockSeconds: service.IDEMPOTENCY_LOCK_SECONDS,
    vendorEnvironment,
    serviceEnvironment,
    watcherEnvironment,
    apiTokensTtlSeconds: whole("apiTokensTtlSeconds", 0),
    enableSourceMaps: flag("enableSourceMaps"),
  };
}

/** A JSON array from cdk.json, or from the command line a JSON array or a comma-separated list. */
function emails(value: unknown): string[] {
  let list: unknown = value;
  if (typeof value === "string") {
    const trimmed = value.trim();
    list = trimmed.startsWith("[") ? JSON.parse(trimmed) : trimmed === "" ? [] : trimmed.split(",");
  }
  if (!Array.isArray(list) || !list.every((item) => typeof item === "string"))
    throw new Error("context alertEmails must be a list of e-mail addresses");
  const addresses = [...new Set(list.map((item) => item.trim()))];
  const bad = addresses.filter((address) => !EMAIL.test(address));
  if (bad.length > 0) throw new Error(`context alertEmails: not an e-mail address: ${bad.join(", ")}`);
  return addresses;
}

/**
 * Client names, as the API tokens parameter gives them: a JSON array, or from the command line a JSON array or
 * a comma-separated list. A name with a comma could not be told apart in OPERATOR_CLIENTS.
 */
function clientNames(value: unknown): string[] {
  let list: unknown = value;
  if (typeof value === "string") {
    const trimmed = value.trim();
    list = trimmed.startsWith("[") ? JSON.parse(trimmed) : trimmed === "" ? [] : trimmed.split(",");
  }
  if (!Array.isArray(list) || !list.every((item) => typeof item === "string"))
    throw new Error("context operatorClients must be a list of API client names");
  const names = [...new Set(list.map((item) => item.trim()))];
  const bad = names.filter((name) => !/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp},]{1,128}$/u.test(name));
  if (bad.length > 0)
    throw new Error(
      `context operatorClients: not a client name (1-128 printable characters, no comma): ${bad.map((name) => JSON.stringify(name)).join(", ")}`,
    );
  return names;
}

/** The watcher's schedule, refused at synth if its time of day is skipped on some day of its zone. */
function schedule(watcherSchedule: string, watcherTimezone: string) {
  const skipped = skippedDay(watcherSchedule, watcherTimezone);
  if (skipped) {
    throw new Error(
      `context watcherSchedule ${watcherSchedule} in ${watcherTimezone}: ${skipped} does not exist there (the clocks spring forward), so that night would not run; choose a time outside the hour that is skipped, such as cron(0 4 * * ? *)`,
    );
  }
  return { watcherSchedule, watcherTimezone };
}
