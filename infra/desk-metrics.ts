import type { Duration } from "aws-cdk-lib";
import { MathExpression, Metric } from "aws-cdk-lib/aws-cloudwatch";
import type { CallEvent } from "../shared/adapters/billmgr/transport.ts";
import { METRIC, METRICS_NAMESPACE, MONEY_OUTCOMES, type MoneyOutcome } from "../shared/metrics.ts";

export type VendorResult = CallEvent["result"];

/** Every result a vendor attempt can have; an alarm's expression must name each series it adds up. */
export const VENDOR_RESULTS: readonly VendorResult[] = [
  "ok",
  "vendor_error",
  "unavailable",
  "timeout",
  "throttled",
];

/**
 * Results that say the vendor itself is failing. A `vendor_error` is its answer (an IP taken, a balance
 * too low), not a failure; a refused login shows as the API's 5xx (`upstream_auth`) instead.
 */
export const VENDOR_FAILURES: readonly VendorResult[] = ["unavailable", "timeout", "throttled"];

export const MONEY_OPERATIONS = ["order", "renew"] as const;

/**
 * The desk's own metrics (`shared/metrics.ts`) as CloudWatch reads them, for the dashboard and the alarms.
 * Powertools adds the `service` dimension to every series: the stack sets it to the stack's name, so two
 * stacks in one account and region never mix their figures.
 */
export class DeskMetrics {
  constructor(readonly service: string) {}

  metric(
    name: string,
    dimensions: Record<string, string>,
    statistic: string,
    period: Duration,
    label?: string,
  ) {
    return new Metric({
      namespace: METRICS_NAMESPACE,
      metricName: name,
      dimensionsMap: { service: this.service, ...dimensions },
      statistic,
      period,
      ...(label === undefined ? {} : { label }),
    });
  }

  /** Vendor attempts with this result, over every vendor function. */
  vendorAttempts(result: VendorResult, period: Duration) {
    return this.metric(METRIC.vendorCall, { result }, "SampleCount", period, result);
  }

  /** The share of vendor attempts (percent) that failed, over every function; 0 when none were made. */
  vendorFailureRate(period: Duration) {
    const usingMetrics = Object.fromEntries(VENDOR_RESULTS.map((r) => [r, this.vendorAttempts(r, period)]));
    const total = (results: readonly VendorResult[]) => results.map((r) => `FILL(${r}, 0)`).join(" + ");
    return new MathExpression({
      expression: `IF((${total(VENDOR_RESULTS)}) > 0, 100 * (${total(VENDOR_FAILURES)}) / (${total(VENDOR_RESULTS)}), 0)`,
      usingMetrics,
      period,
      label: "failed vendor attempts (%)",
    });
  }

  /** Every function's latency at `statistic` (p90, Average), found by search: functions are configuration. */
  vendorLatencyByFunction(statistic: string, period: Duration) {
    return new MathExpression({
      expression: `SEARCH('{${METRICS_NAMESPACE},func,result,service} MetricName="${METRIC.vendorCall}" service="${this.service}"', '${statistic}', ${period.toSeconds()})`,
      usingMetrics: {},
      period,
      label: "",
    });
  }

  moneyOutcome(operation: string, outcome: MoneyOutcome, period: Duration) {
    return this.metric(METRIC.moneyOutcome, { operation, outcome }, "Sum", period, `${operation} ${outcome}`);
  }

  moneyOutcomes(operation: string, period: Duration) {
    return MONEY_OUTCOMES.map((outcome) => this.moneyOutcome(operation, outcome, period));
  }

  /** A figure without dimensions of its own (the night's, the reconciler's). */
  figure(name: string, statistic: string, period: Duration, label?: string) {
    return this.metric(name, {}, statistic, period, label);
  }
}
