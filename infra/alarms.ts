import { Aws, Duration } from "aws-cdk-lib";
import type { Stage } from "aws-cdk-lib/aws-apigateway";
import {
  Alarm,
  ComparisonOperator,
  MathExpression,
  type Metric,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { METRIC } from "../shared/metrics.ts";
import type { DeskMetrics } from "./desk-metrics.ts";

export interface DeskAlarmsProps {
  topic: ITopic;
  watcher: IFunction;
  reconciler: IFunction;
  authorizer: IFunction;
  deadLetterQueue: IQueue;
  stage: Stage;
  api5xxRatePercent: number;
  authorizerErrorThreshold: number;
  /** The desk's own figures (functions/lib/figures.ts). */
  metrics: DeskMetrics;
  vendorErrorRatePercent: number;
}

const FIVE_MINUTES = Duration.minutes(5);

/** The alarms the staff hear about, by e-mail through the alert topic. */
export class DeskAlarms extends Construct {
  readonly watcherErrors: Alarm;
  readonly reconcilerErrors: Alarm;
  readonly watcherMissedNight: Alarm;
  readonly deadLetters: Alarm;
  readonly api5xxRate: Alarm;
  readonly authorizerErrors: Alarm;
  readonly alertsUndelivered: Alarm;
  readonly unknownOutcomesOverdue: Alarm;
  readonly vendorFailureRate: Alarm;
  readonly missedHeartbeat: Alarm;

  constructor(scope: Construct, id: string, props: DeskAlarmsProps) {
    super(scope, id);
    const sum = (metric: Metric, period = FIVE_MINUTES) => metric.with({ statistic: "Sum", period });

    this.watcherErrors = new Alarm(this, "WatcherErrors", {
      alarmDescription:
        "The nightly watcher failed (it throws when the vendor cannot be reached). It is retried twice; " +
        'read its log group, then rerun by hand with {"date": "YYYY-MM-DD"} if the night stays undone.',
      metric: sum(props.watcher.metricErrors()),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    // A pass that throws or runs out of time (Lambda counts a timeout as an error) leaves unknown money
    // outcomes unsettled, and any alert it had not sent: each pass is the next one's work, so one is enough
    // to look, not to retry.
    this.reconcilerErrors = new Alarm(this, "ReconcilerErrors", {
      alarmDescription:
        "A reconciler pass failed or timed out: unknown money outcomes wait for the next pass (every 15 " +
        "minutes), and nothing is ever sent twice. Read the reconciler's log group (its 'reconcile pass " +
        "done' lines: pending, undecided, deferred) and GET /outcomes?state=undecided.",
      metric: sum(props.reconciler.metricErrors(), Duration.minutes(15)),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    // A run that ended well is an invocation without an error. 26 hourly periods all without one: a night
    // was missed (24 h plus slack for a daylight-saving shift of the schedule's time zone and a late retry).
    // No data at all (nothing ran) counts as breaching.
    this.watcherMissedNight = new Alarm(this, "WatcherMissedNight", {
      alarmDescription:
        "No successful watcher run in 26 hours: renewals and expiry alerts are not happening. Check the " +
        "schedule, the dead-letter queue and the watcher's log group.",
      metric: new MathExpression({
        expression: "FILL(invocations, 0) - FILL(errors, 0)",
        usingMetrics: {
          invocations: sum(props.watcher.metricInvocations(), Duration.hours(1)),
          errors: sum(props.watcher.metricErrors(), Duration.hours(1)),
        },
        period: Duration.hours(1),
        label: "successful watcher runs",
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 26,
      datapointsToAlarm: 26,
      treatMissingData: TreatMissingData.BREACHING,
    });

    this.deadLetters = new Alarm(this, "DeadLetters", {
      alarmDescription:
        "A night's watcher run was given up on (after its retries) and is in the dead-letter queue. Read " +
        "the message for the night, fix the cause, rerun that night by hand, then purge the queue.",
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        statistic: "Maximum",
        period: FIVE_MINUTES,
      }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    // 5xx includes the vendor being down or slow (502/504 from the handlers): worth knowing either way.
    this.api5xxRate = new Alarm(this, "Api5xxRate", {
      alarmDescription:
        `Over ${props.api5xxRatePercent}% of API requests answered 5xx in 5 minutes: the vendor may be ` +
        "down or refusing our credentials (upstream_* codes in the functions' logs), or a function fails.",
      metric: new MathExpression({
        expression: "IF(requests > 0, 100 * errors / requests, 0)",
        usingMetrics: {
          errors: sum(props.stage.metricServerError()),
          requests: sum(props.stage.metricCount()),
        },
        period: FIVE_MINUTES,
        label: "5xx answers (% of requests)",
      }),
      threshold: props.api5xxRatePercent,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    // The authorizer signals a refused token by throwing "Unauthorized" (API Gateway's contract for a 401),
    // which Lambda counts as an error too: a threshold of 0 would mail the staff for every mistyped token.
    // A broken authorizer (tokens parameter missing or unreadable) fails every request and crosses the
    // threshold at once; so does a burst of bad tokens, which is worth knowing as well.
    this.authorizerErrors = new Alarm(this, "AuthorizerErrors", {
      alarmDescription:
        `The authorizer failed over ${props.authorizerErrorThreshold} times in 5 minutes: either the tokens ` +
        "parameter cannot be read (every client gets 401/500) or someone is trying many bad tokens. " +
        "See the authorizer's log group and the API access log.",
      metric: sum(props.authorizer.metricErrors()),
      threshold: props.authorizerErrorThreshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    const { metrics } = props;

    // Each run leaves what SNS refused pending for the next run, which may be a night away; and when the
    // topic refuses everything, this alarm's own mail fails too: the dashboard shows it either way.
    this.alertsUndelivered = new Alarm(this, "AlertsUndelivered", {
      alarmDescription:
        "Alerts to staff could not be published to the alert topic (the watcher's or the reconciler's): " +
        "they stay pending and the next run tries again. Check the topic, its KMS key and the functions' logs.",
      metric: metrics.figure(METRIC.alertsUndelivered, "Sum", FIVE_MINUTES),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    // Every reconciler pass (each 15 minutes) reports how many unknown outcomes are past their settle
    // window and still undecided. Two passes in a row: one vendor hiccup during a pass does not page.
    // A pass that did not run says nothing either way.
    this.unknownOutcomesOverdue = new Alarm(this, "UnknownOutcomesOverdue", {
      alarmDescription:
        "Money calls whose outcome is unknown are past their settle window and the vendor's evidence could not " +
        "decide them in two reconciler passes. Nothing is sent again; see the reconciler's log (pending, " +
        "overdue) and the vendor's panel. After a day each is mailed to staff as outcome_stale.",
      metric: metrics.figure(METRIC.unknownOverdue, "Maximum", Duration.minutes(15)),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.MISSING,
    });

    // Two periods in a row, so one slow answer among few calls does not page.
    this.vendorFailureRate = new Alarm(this, "VendorFailureRate", {
      alarmDescription:
        `Over ${props.vendorErrorRatePercent}% of vendor attempts failed (no answer, timeout, throttled) in ` +
        "two 5-minute periods in a row: the vendor is down, slow or throttling us. Its refusals (an IP " +
        "taken, a low balance) do not count. See the dashboard's vendor row.",
      metric: metrics.vendorFailureRate(FIVE_MINUTES),
      threshold: props.vendorErrorRatePercent,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    // The watcher's own heartbeat: 26 hourly periods without a night finished (a day plus slack), where no
    // data at all counts as none. Quiet nights mail no summary, so the summary cannot be the heartbeat.
    this.missedHeartbeat = new Alarm(this, "MissedHeartbeat", {
      alarmDescription:
        "No watcher night finished in 26 hours (its heartbeat, NightsCompleted): renewals, alerts and " +
        "summaries are not happening. Check the watcher's log group, the schedule and the dead-letter queue.",
      metric: new MathExpression({
        expression: "FILL(nights, 0)",
        usingMetrics: { nights: metrics.figure(METRIC.nightsCompleted, "Sum", Duration.hours(1)) },
        period: Duration.hours(1),
        label: "nights finished",
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 26,
      datapointsToAlarm: 26,
      treatMissingData: TreatMissingData.BREACHING,
    });

    const action = new SnsAction(props.topic);
    for (const alarm of this.all()) alarm.addAlarmAction(action);
    // The topic has a policy of its own (TLS only), which replaces SNS's default one; without this statement
    // CloudWatch is refused ("no resource-based policy allows the SNS:Publish action"). These alarms only.
    props.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: "TheDeskAlarmsPublish",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [props.topic.topicArn],
        conditions: {
          ArnEquals: { "aws:SourceArn": this.all().map((alarm) => alarm.alarmArn) },
          StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID },
        },
      }),
    );
  }

  all(): Alarm[] {
    return [
      this.watcherErrors,
      this.reconcilerErrors,
      this.watcherMissedNight,
      this.deadLetters,
      this.api5xxRate,
      this.authorizerErrors,
      this.alertsUndelivered,
      this.unknownOutcomesOverdue,
      this.vendorFailureRate,
      this.missedHeartbeat,
    ];
  }
}
