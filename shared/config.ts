import * as v from "valibot";
import type { IdempotencySettings } from "./domain/licences/idempotency-settings.ts";
import type { WatcherSettings } from "./domain/night/night-types.ts";

const integer = (fallback: number, min: number) =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^\d+$/, "must be a whole number"),
      v.transform(Number),
      v.minValue(min),
    ),
    String(fallback),
  );

/** Every setting the vendor client reads from the environment, with its default. */
const BillmgrEnv = v.object({
  BILLMGR_URL: v.optional(
    v.pipe(v.string(), v.url("must be a URL")),
    "http://127.0.0.1:8089/manager/billmgr",
  ),
  BILLMGR_TIMEOUT_MS: integer(15_000, 1),
  BILLMGR_RETRIES: integer(2, 0),
  BILLMGR_RETRY_BASE_MS: integer(200, 0),
  BILLMGR_FORMAT: v.optional(v.picklist(["xml", "json"]), "xml"),
  BILLMGR_PAGE_SIZE: integer(500, 1),
  BILLMGR_BALANCE_FUNC: v.optional(v.pipe(v.string(), v.regex(/^[a-z][a-z.]*$/)), "dashboard.info"),
  BILLMGR_CREDENTIALS: v.optional(v.string()),
  BILLMGR_CREDENTIALS_PARAM: v.optional(v.pipe(v.string(), v.minLength(1))),
  BILLMGR_CREDENTIALS_TTL_SECONDS: integer(300, 0),
});

export type BillmgrConfig = v.InferOutput<typeof BillmgrEnv>;

/**
 * Reads and checks the environment once. A bad value fails at start-up, naming the
 * variable but never echoing its value (one of them is a password).
 */
export function readBillmgrConfig(env: Record<string, string | undefined> = process.env): BillmgrConfig {
  return parseEnv(BillmgrEnv, env);
}

function parseEnv<S extends v.GenericSchema>(
  schema: S,
  env: Record<string, string | undefined>,
): v.InferOutput<S> {
  const result = v.safeParse(schema, env);
  if (result.success) return result.output;
  const problems = result.issues.map((issue) => `${v.getDotPath(issue) ?? "?"}: ${issue.message}`);
  throw new Error(`invalid configuration: ${problems.join("; ")}`);
}

/** Settings of the API and the watcher (the vendor's are above). */
const ServiceEnv = v.object({
  TABLE_NAME: v.optional(v.pipe(v.string(), v.minLength(3)), "licence-desk"),
  /** Local runs and tests only: DynamoDB Local or dynalite. */
  DYNAMODB_ENDPOINT: v.optional(v.pipe(v.string(), v.url("must be a URL"))),
  /** Name of the SSM parameter holding `{"<sha256 of token>": "<client name>"}`. */
  API_TOKENS_PARAM: v.optional(v.pipe(v.string(), v.minLength(1))),
  API_TOKENS_TTL_SECONDS: integer(60, 0),
  /** Local runs: the one accepted token (client name `local`). */
  API_TOKEN: v.optional(v.pipe(v.string(), v.minLength(16, "must be at least 16 characters"))),
  /** Local runs: the operator's token (client name `operator`), beside API_TOKEN. */
  OPERATOR_TOKEN: v.optional(v.pipe(v.string(), v.minLength(16, "must be at least 16 characters"))),
  /**
   * The API clients (comma-separated names, as the token parameter names them) whose tokens may list and
   * settle the money outcomes the evidence cannot decide. Empty: nobody may.
   */
  OPERATOR_CLIENTS: v.optional(
    v.pipe(
      v.string(),
      v.transform((s) => [...new Set(s.split(",").map((name) => name.trim()))].filter((name) => name !== "")),
    ),
    "",
  ),
  IDEMPOTENCY_TTL_HOURS: integer(48, 24),
  IDEMPOTENCY_LOCK_SECONDS: integer(120, 1),
  /**
   * An unknown money outcome is decided only this long after the call was sent: vendors apply calls
   * late, so a read right after the call proves nothing. At least a minute.
   */
  RECONCILE_AFTER_SECONDS: integer(900, 60),
  /** Local tests only (refused in Lambda): a settle window below the floor above, so a test need not wait. */
  TEST_ONLY_RECONCILE_AFTER_SECONDS: v.optional(
    v.pipe(v.string(), v.trim(), v.regex(/^\d+$/, "must be a whole number"), v.transform(Number)),
  ),
  CATALOGUE_JSON: v.optional(v.string()),
});

export type ServiceConfig = v.InferOutput<typeof ServiceEnv>;

export function readServiceConfig(env: Record<string, string | undefined> = process.env): ServiceConfig {
  const config = parseEnv(ServiceEnv, env);
  // One token, two clients: which one is calling would be a guess, and an operator's rights hang on it.
  if (config.API_TOKEN !== undefined && config.API_TOKEN === config.OPERATOR_TOKEN) {
    throw new Error("invalid configuration: OPERATOR_TOKEN: must differ from API_TOKEN");
  }
  if (config.TEST_ONLY_RECONCILE_AFTER_SECONDS !== undefined && env.AWS_LAMBDA_FUNCTION_NAME !== undefined) {
    throw new Error(
      "invalid configuration: TEST_ONLY_RECONCILE_AFTER_SECONDS: is for local tests only; set RECONCILE_AFTER_SECONDS (at least 60)",
    );
  }
  return config;
}

/** The money rules' time settings, the same for the API, the watcher and the reconciler. */
export function idempotencySettings(config: ServiceConfig): IdempotencySettings {
  return {
    ttlSeconds: config.IDEMPOTENCY_TTL_HOURS * 3600,
    lockMs: config.IDEMPOTENCY_LOCK_SECONDS * 1000,
    settleMs: (config.TEST_ONLY_RECONCILE_AFTER_SECONDS ?? config.RECONCILE_AFTER_SECONDS) * 1000,
  };
}

const dayList = (fallback: string) =>
  v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\s*\d{1,3}(\s*,\s*\d{1,3})*\s*$/, "must be comma-separated whole numbers of days"),
      v.transform((s) => [...new Set(s.split(",").map((d) => Number(d.trim())))].sort((a, b) => b - a)),
    ),
    fallback,
  );

/** The nightly watcher's leads, distances and limits. */
const WatcherEnv = v.object({
  /** Renew a licence this many days (or fewer) before it expires. */
  RENEWAL_LEAD_DAYS: integer(3, 0),
  /** When renewals close before a licence's normal renewal night, renew on the nights this far before the close. */
  EARLY_RENEWAL_DAYS: integer(7, 1),
  EXPIRY_ALERT_DAYS: dayList("14,7,3,1"),
  LIFECYCLE_ALERT_DAYS: dayList("30,14,7,1"),
  /** At least this many nights ahead, and through the eve of the next renewals close. */
  BALANCE_FORECAST_DAYS: integer(30, 1),
  EXPIRING_SOON_DAYS: integer(30, 1),
  VENDOR_CONCURRENCY: integer(4, 1),
  REGISTER_CONCURRENCY: integer(16, 1),
  /** From this many alerts of one kind about single licences in a night, they go out as one digest e-mail. */
  ALERT_DIGEST_MIN: integer(10, 2),
  /** `on`: a successor planned for every licence set to renew whose product has one (ISPmanager 5 to 6). */
  PLAN_SUCCESSORS: v.optional(v.picklist(["on", "off"], "must be on or off"), "off"),
  /**
   * Which nights mail a summary: every one (`nightly`), those with news (`changes`), only the weekly one
   * (`weekly`, Mondays), or those with news and the weekly one (`changes_weekly`).
   */
  SUMMARY_MAILS: v.optional(
    v.picklist(
      ["nightly", "changes", "weekly", "changes_weekly"],
      "must be nightly, changes, weekly or changes_weekly",
    ),
    "changes_weekly",
  ),
  /** The schedule's time zone: tonight is the scheduled time's date there. */
  SCHEDULE_TIMEZONE: v.optional(
    v.pipe(
      v.string(),
      v.check((zone) => {
        try {
          new Intl.DateTimeFormat("en-CA", { timeZone: zone });
          return true;
        } catch {
          return false;
        }
      }, "must be an IANA time zone such as UTC or Europe/Berlin"),
    ),
    "UTC",
  ),
  /** SNS topic for alerts (AWS); unset locally, where alerts go to DATA_DIR/outbox.jsonl. */
  ALERT_TOPIC_ARN: v.optional(
    v.pipe(v.string(), v.regex(/^arn:aws[a-z-]*:sns:/, "must be an SNS topic ARN")),
  ),
});

export type WatcherConfig = v.InferOutput<typeof WatcherEnv>;

export function readWatcherConfig(env: Record<string, string | undefined> = process.env): WatcherConfig {
  return parseEnv(WatcherEnv, env);
}

/**
 * Time a night keeps after its last form read begins: that read, at its worst (every try timing out),
 * then 15 s for the summary and the sends; never under a minute.
 */
export function finishReserveMs(
  billmgr: Pick<BillmgrConfig, "BILLMGR_TIMEOUT_MS" | "BILLMGR_RETRIES">,
): number {
  return Math.max(60_000, billmgr.BILLMGR_TIMEOUT_MS * (billmgr.BILLMGR_RETRIES + 1) + 15_000);
}

/** A run sending an alert holds it this long against another run: a send takes well under a second. */
const SEND_LEASE_MS = 30_000;

/** The watcher's settings from its configuration (environment variables, with their defaults). */
export function watcherSettings(config: WatcherConfig): WatcherSettings {
  return {
    renewalLeadDays: config.RENEWAL_LEAD_DAYS,
    earlyRenewalDays: config.EARLY_RENEWAL_DAYS,
    expiryAlertDays: config.EXPIRY_ALERT_DAYS,
    lifecycleAlertDays: config.LIFECYCLE_ALERT_DAYS,
    balanceForecastDays: config.BALANCE_FORECAST_DAYS,
    expiringSoonDays: config.EXPIRING_SOON_DAYS,
    vendorConcurrency: config.VENDOR_CONCURRENCY,
    registerConcurrency: config.REGISTER_CONCURRENCY,
    digestMin: config.ALERT_DIGEST_MIN,
    planSuccessors: config.PLAN_SUCCESSORS === "on",
    summaryMails: config.SUMMARY_MAILS,
    sendLeaseMs: SEND_LEASE_MS,
  };
}
