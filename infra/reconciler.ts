import { Aws, Duration } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import { Schedule, ScheduleExpression, ScheduleTargetInput } from "aws-cdk-lib/aws-scheduler";
import { LambdaInvoke } from "aws-cdk-lib/aws-scheduler-targets";
import { Construct } from "constructs";
import type { Alerts } from "./alerts.ts";
import { DeskFunction } from "./desk-function.ts";
import type { SecureParameter } from "./secure-parameter.ts";
import type { DeskSettings } from "./settings.ts";

export interface ReconcilerProps {
  settings: DeskSettings;
  table: ITable;
  credentials: SecureParameter;
  alerts: Alerts;
  logRetention: RetentionDays;
}

/** How often unknown money outcomes are looked at: the default settle window is 15 minutes too. */
export const RECONCILER_RATE = Duration.minutes(15);

/**
 * The reconciler (`functions/reconciler.ts`): every 15 minutes it settles money calls whose outcome is
 * unknown and whose settle window has passed, on the vendor's evidence, without waiting for their
 * clients; it alerts staff of each order settled as placed and of anything unknown for over a day.
 * Reserved concurrency 1: two passes never read the vendor side by side (each intent is leased anyway).
 * A failed pass is simply the next one's work: no retries, no dead letters.
 */
export class Reconciler extends Construct {
  readonly function: DeskFunction;
  readonly schedule: Schedule;
  /** What the schedule acts as: may invoke the reconciler, nothing else. */
  readonly scheduleRole: Role;

  constructor(scope: Construct, id: string, props: ReconcilerProps) {
    super(scope, id);
    const { settings } = props;
    this.function = new DeskFunction(this, "Reconciler", {
      entry: "reconciler",
      description: "Settles unknown money outcomes after their settle window",
      logRetention: props.logRetention,
      sourceMapStackTraces: settings.enableSourceMaps,
      memorySize: 512,
      timeout: Duration.minutes(5),
      reservedConcurrentExecutions: 1,
      environment: {
        ...settings.serviceEnvironment,
        ...settings.vendorEnvironment,
        ALERT_TOPIC_ARN: props.alerts.topic.topicArn,
      },
      table: { table: props.table, access: "ledger" },
      parameters: { BILLMGR_CREDENTIALS_PARAM: props.credentials },
    });
    props.alerts.grantPublish(this.function.role);
    this.function.function.configureAsyncInvoke({ retryAttempts: 0 });

    this.scheduleRole = new Role(this, "ScheduleRole", {
      description: "EventBridge Scheduler: invoke the licence desk's reconciler",
      assumedBy: new ServicePrincipal("scheduler.amazonaws.com", {
        conditions: { StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID } },
      }),
    });
    this.schedule = new Schedule(this, "Every15Minutes", {
      description: "Runs the licence desk's reconciler",
      schedule: ScheduleExpression.rate(RECONCILER_RATE),
      target: new LambdaInvoke(this.function.function, {
        input: ScheduleTargetInput.fromObject({}),
        retryAttempts: 0,
        role: this.scheduleRole,
      }),
    });
  }
}
