/**
 * Dimension values name one series. Keep them few-valued (a vendor function, an outcome), never an id:
 * every distinct combination is a metric CloudWatch bills for.
 */
export type Dimensions = Readonly<Record<string, string>>;

/**
 * What the desk reports about itself. The domain speaks only to this; the Lambda handlers bind it to
 * CloudWatch (functions/lib/metrics.ts), so nothing here knows of Lambda or Powertools.
 */
export interface Metrics {
  /** `value` more of something (calls, outcomes), summed per period. */
  count(name: string, dimensions: Dimensions, value?: number): void;
  /** How long something took, in ms; its sample count is also how often it happened. */
  timing(name: string, dimensions: Dimensions, ms: number): void;
  /** A figure as it stands now (licences expiring, a balance in minor units), not an increment. */
  level(name: string, dimensions: Dimensions, value: number): void;
}

export const noMetrics: Metrics = { count() {}, timing() {}, level() {} };

let bound: Metrics = noMetrics;

/** Where the domain's figures go for the rest of this process: a Lambda container binds it once at start. */
export function bindMetrics(metrics: Metrics): void {
  bound = metrics;
}

/** The bound metrics; figures go nowhere until a handler binds them. */
export function metrics(): Metrics {
  return bound;
}

/** The CloudWatch namespace of every figure; the stack's dashboard and alarms read the same one. */
export const METRICS_NAMESPACE = "LicenceDesk";

/** Metric names, one place for the emitters and the stack's dashboard and alarms. */
export const METRIC = {
  /** One attempt of a vendor call: a timing, dimensions `func` and `result` (and `result` alone). */
  vendorCall: "VendorCall",
  /** A money call's outcome: dimensions `operation` and `outcome` (see `MoneyOutcome`). */
  moneyOutcome: "MoneyOutcome",
  /** Per reconciler pass: unknown outcomes past their settle window that the evidence could not decide. */
  unknownOverdue: "UnknownOutcomesOverdue",
  alertsSent: "AlertsSent",
  alertsUndelivered: "AlertsUndelivered",
  /** Per watcher run. */
  nightRenewed: "NightRenewed",
  nightFailed: "NightFailed",
  summariesSent: "SummariesSent",
  /** One per watcher run that finished its night (the heartbeat: quiet nights mail no summary). */
  nightsCompleted: "NightsCompleted",
  expiringWithin7Days: "ExpiringWithin7Days",
  expiringWithin30Days: "ExpiringWithin30Days",
  /** Live licences nothing can renew any more: renewals closed, or already at the vendor's cap. */
  pastVendorCutoff: "PastVendorCutoff",
  /** The vendor balance the night read, and how far it falls short of the week's renewals (0 if covered). */
  balance: "Balance",
  forecastShortfall: "ForecastShortfall",
} as const;

/**
 * How a money call ended for this attempt: the vendor answered (applied) or refused / never got it
 * (refused), no answer (unknown), still undecided when asked again (pending), or decided on evidence
 * after its settle window (settled_applied, settled_not_applied).
 */
export type MoneyOutcome =
  | "applied"
  | "refused"
  | "unknown"
  | "pending"
  | "settled_applied"
  | "settled_not_applied";

export const MONEY_OUTCOMES: readonly MoneyOutcome[] = [
  "applied",
  "refused",
  "unknown",
  "pending",
  "settled_applied",
  "settled_not_applied",
];
