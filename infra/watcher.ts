import { Aws, Duration, TimeZone } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import {
  ContextAttribute,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
} from "aws-cdk-lib/aws-scheduler";
import { LambdaInvoke } from "aws-cdk-lib/aws-scheduler-targets";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { Alerts } from "./alerts.ts";
import { DeskFunction } from "./desk-function.ts";
import type { SecureParameter } from "./secure-parameter.ts";
import type { DeskSettings } from "./settings.ts";

export interface NightlyWatcherProps {
  settings: DeskSettings;
  table: ITable;
  credentials: SecureParameter;
  alerts: Alerts;
  logRetention: RetentionDays;
}

/** Tries of one night: the first, then two more (EventBridge Scheduler for delivery, Lambda for the run). */
export const WATCHER_RETRY_ATTEMPTS = 2;
/** A night's run still makes sense hours later (tonight is the schedule's date, not the wall clock). */
export const WATCHER_MAX_EVENT_AGE = Duration.hours(6);

/**
 * The nightly watcher (`functions/watcher.ts`) and what runs it: an EventBridge Scheduler schedule that
 * passes `{"scheduledTime": <aws.scheduler.scheduled-time>}`, retries, and one dead-letter queue for a
 * night that never completed.
 *
 * Sizing (`bench/watcher.ts`, docs/deploying.md "When one invocation is not enough"): a night does what is
 * due first (the list, every new or changed licence written from its list row, the renewals, the alerts,
 * the summary) and reads licences' forms only with the time it has left, keeping a minute to finish; one
 * 15-minute invocation does an ordinary night's work for some 430,000 licences at a real vendor's pace, and
 * a first import's forms carry over to the continuation runs and later nights, oldest first. 1024 MB: the
 * whole register and the vendor's list are held in memory at once (about 0.7 KB a licence), and Lambda's
 * CPU share grows with memory, which the XML parsing uses.
 *
 * Reserved concurrency 1: a retry, a continuation, a rerun by hand and the schedule never run side by side (the once-only
 * rule would keep them from renewing twice anyway; this keeps them from doubling the vendor's load).
 *
 * Retries: Scheduler invokes the function asynchronously, so its retry policy covers delivery (throttling,
 * service errors) and Lambda's asynchronous-invocation settings cover a run that fails (the watcher throws
 * when the vendor cannot be reached). Both give up after 2 more tries or 6 hours, and both send what they
 * gave up on to the dead-letter queue, whose alarm tells the staff.
 */
export class NightlyWatcher extends Construct {
  readonly function: DeskFunction;
  readonly deadLetterQueue: Queue;
  readonly schedule: Schedule;
  /** Carries on a night a run left unfinished (forms still to read); a no-op on a finished night. */
  readonly continuation: Schedule;
  /** What the schedule acts as: may invoke the watcher and send to the dead-letter queue, nothing else. */
  readonly scheduleRole: Role;

  constructor(scope: Construct, id: string, props: NightlyWatcherProps) {
    super(scope, id);
    const { settings } = props;
    this.deadLetterQueue = new Queue(this, "DeadLetters", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    this.function = new DeskFunction(this, "Watcher", {
      entry: "watcher",
      description: "Nightly watcher: sync the register, renew, alert",
      logRetention: props.logRetention,
      sourceMapStackTraces: settings.enableSourceMaps,
      memorySize: 1024,
      timeout: Duration.minutes(15),
      reservedConcurrentExecutions: 1,
      environment: {
        ...settings.serviceEnvironment,
        ...settings.vendorEnvironment,
        ...settings.watcherEnvironment,
        ALERT_TOPIC_ARN: props.alerts.topic.topicArn,
        // "Tonight" is the scheduled time's date in the schedule's own zone.
        SCHEDULE_TIMEZONE: settings.watcherTimezone,
      },
      table: { table: props.table, access: "ledger" },
      parameters: { BILLMGR_CREDENTIALS_PARAM: props.credentials },
    });
    props.alerts.grantPublish(this.function.role);
    this.function.function.configureAsyncInvoke({
      retryAttempts: WATCHER_RETRY_ATTEMPTS,
      maxEventAge: WATCHER_MAX_EVENT_AGE,
      onFailure: new SqsDestination(this.deadLetterQueue),
    });

    this.scheduleRole = new Role(this, "ScheduleRole", {
      description: "EventBridge Scheduler: invoke the licence desk's watcher",
      assumedBy: new ServicePrincipal("scheduler.amazonaws.com", {
        conditions: { StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID } },
      }),
    });
    this.schedule = new Schedule(this, "Nightly", {
      description: "Runs the licence desk's nightly watcher",
      schedule: ScheduleExpression.expression(
        settings.watcherSchedule,
        TimeZone.of(settings.watcherTimezone),
      ),
      target: new LambdaInvoke(this.function.function, {
        input: ScheduleTargetInput.fromObject({ scheduledTime: ContextAttribute.scheduledTime }),
        retryAttempts: WATCHER_RETRY_ATTEMPTS,
        maxEventAge: WATCHER_MAX_EVENT_AGE,
        deadLetterQueue: this.deadLetterQueue,
        role: this.scheduleRole,
      }),
    });
    this.continuation = new Schedule(this, "Continuation", {
      description: "Carries on the licence desk's night when a run left forms to read",
      schedule: ScheduleExpression.expression(
        settings.watcherContinueSchedule,
        TimeZone.of(settings.watcherTimezone),
      ),
      target: new LambdaInvoke(this.function.function, {
        input: ScheduleTargetInput.fromObject({
          scheduledTime: ContextAttribute.scheduledTime,
          continuation: true,
        }),
        // A continuation missed is the next one's (or the next night's) to do: no retries, and none in
        // the dead-letter queue, whose alarm means a night never completed.
        retryAttempts: 0,
        maxEventAge: Duration.minutes(15),
        role: this.scheduleRole,
      }),
    });
  }
}
