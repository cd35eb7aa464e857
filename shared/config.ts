import * as v from "valibot";

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
  IDEMPOTENCY_TTL_HOURS: integer(48, 24),
  IDEMPOTENCY_LOCK_SECONDS: integer(120, 1),
  CATALOGUE_JSON: v.optional(v.string()),
});

export type ServiceConfig = v.InferOutput<typeof ServiceEnv>;

export function readServiceConfig(env: Record<string, string | undefined> = process.env): ServiceConfig {
  return parseEnv(ServiceEnv, env);
}
