import { Duration } from "aws-cdk-lib";
import type { Stage } from "aws-cdk-lib/aws-apigateway";
import {
  type Alarm,
  AlarmStatusWidget,
  AlarmWidget,
  Dashboard,
  GraphWidget,
  type IWidget,
  MathExpression,
  type Metric,
  SingleValueWidget,
  TextWidget,
} from "aws-cdk-lib/aws-cloudwatch";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";
import { METRIC } from "../shared/metrics.ts";
import type { DeskAlarms } from "./alarms.ts";
import { type DeskMetrics, MONEY_OPERATIONS, VENDOR_RESULTS } from "./desk-metrics.ts";

export interface DeskDashboardProps {
  metrics: DeskMetrics;
  alarms: DeskAlarms;
  stage: Stage;
  /** The functions that call the vendor from the API: their throttles are the vendor limit at work. */
  vendorRoutes: readonly IFunction[];
}

const FIVE_MINUTES = Duration.minutes(5);
const DAY = Duration.days(1);
const WIDE = 12;
const HEIGHT = 6;

/**
 * One CloudWatch dashboard with what the desk does: the vendor's answers and latency, money outcomes, each
 * night's renewals, alerts and register figures, the API's load, and every alarm's state. Nights are
 * daily figures (one run a night), the rest 5-minute ones.
 */
export class DeskDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: DeskDashboardProps) {
    super(scope, id);
    const { metrics, alarms } = props;
    const daily = (name: string, statistic: string, label: string) =>
      metrics.figure(name, statistic, DAY, label);
    const graph = (title: string, left: Array<Metric | MathExpression>, extra: object = {}) =>
      new GraphWidget({ title, left, width: WIDE, height: HEIGHT, ...extra });
    const alarm = (a: Alarm) => new AlarmWidget({ alarm: a, title: a.node.id, width: WIDE, height: HEIGHT });

    const rows: IWidget[][] = [
      [
        new AlarmStatusWidget({
          title: "Alarms",
          alarms: alarms.all(),
          width: 24,
          height: 3,
        }),
      ],
      [
        new TextWidget({
          markdown: "## Vendor (BILLmanager): every attempt, retries included",
          width: 24,
          height: 1,
        }),
      ],
      [
        graph(
          "Vendor attempts by result",
          VENDOR_RESULTS.map((r) => metrics.vendorAttempts(r, FIVE_MINUTES)),
          { stacked: true },
        ),
        alarm(alarms.vendorFailureRate),
      ],
      [
        graph("Vendor latency by function and result, p90 (ms)", [
          metrics.vendorLatencyByFunction("p90", FIVE_MINUTES),
        ]),
        graph("Vendor latency by function and result, average (ms)", [
          metrics.vendorLatencyByFunction("Average", FIVE_MINUTES),
        ]),
      ],
      [new TextWidget({ markdown: "## Money: orders and renewals, API and watcher", width: 24, height: 1 })],
      [
        ...MONEY_OPERATIONS.map((operation) =>
          graph(`Money outcomes: ${operation}`, metrics.moneyOutcomes(operation, FIVE_MINUTES), {
            stacked: true,
          }),
        ),
      ],
      [alarm(alarms.unknownOutcomesOverdue), alarm(alarms.alertsUndelivered)],
      [new TextWidget({ markdown: "## Nights (daily)", width: 24, height: 1 })],
      [
        graph(
          "Renewals",
          [daily(METRIC.nightRenewed, "Sum", "renewed"), daily(METRIC.nightFailed, "Sum", "failed")],
          { period: DAY },
        ),
        graph(
          "Alerts to staff",
          [
            daily(METRIC.alertsSent, "Sum", "sent"),
            daily(METRIC.alertsUndelivered, "Sum", "undelivered"),
            daily(METRIC.summariesSent, "Sum", "summaries sent"),
          ],
          { period: DAY },
        ),
      ],
      [
        new SingleValueWidget({
          title: "The register tonight",
          metrics: [
            daily(METRIC.expiringWithin7Days, "Maximum", "expiring within 7 days"),
            daily(METRIC.expiringWithin30Days, "Maximum", "expiring within 30 days"),
            daily(METRIC.pastVendorCutoff, "Maximum", "past a vendor cutoff"),
            daily(METRIC.balance, "Minimum", "vendor balance"),
            daily(METRIC.forecastShortfall, "Maximum", "forecast shortfall"),
          ],
          period: DAY,
          setPeriodToTimeRange: false,
          width: WIDE,
          height: HEIGHT,
        }),
        alarm(alarms.missedHeartbeat),
      ],
      [new TextWidget({ markdown: "## API and functions", width: 24, height: 1 })],
      [
        graph("API requests and 5xx answers", [
          props.stage.metricCount({ period: FIVE_MINUTES, statistic: "Sum", label: "requests" }),
          props.stage.metricServerError({ period: FIVE_MINUTES, statistic: "Sum", label: "5xx" }),
        ]),
        graph("Vendor routes refused at their concurrency limit (Lambda throttles)", [
          new MathExpression({
            expression: props.vendorRoutes.map((_, i) => `FILL(t${i}, 0)`).join(" + "),
            usingMetrics: Object.fromEntries(
              props.vendorRoutes.map((fn, i) => [
                `t${i}`,
                fn.metricThrottles({ period: FIVE_MINUTES, statistic: "Sum" }),
              ]),
            ),
            period: FIVE_MINUTES,
            label: "throttled invocations",
          }),
        ]),
      ],
    ];
    this.dashboard = new Dashboard(this, "Dashboard", {
      defaultInterval: Duration.days(7),
      widgets: rows,
    });
  }
}
