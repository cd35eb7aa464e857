import { Match } from "aws-cdk-lib/assertions";
import { describe, it } from "vitest";
import { logicalId, shippedDesk, synthDesk } from "./support.ts";

/** The nightly watcher's schedule, retries and dead-letter queue (infra/watcher.ts). */
const { stack, template } = shippedDesk();
const queueId = logicalId(stack, stack.watcher.deadLetterQueue);
const watcherId = logicalId(stack, stack.watcher.function.function);

describe("the nightly schedule", () => {
  it("runs the watcher at 02:00 UTC with the scheduled time, 2 retries within 6 h and the dead-letter queue", () => {
    // The nightly run, its continuation, and the reconciler's.
    template.resourceCountIs("AWS::Scheduler::Schedule", 3);
    template.hasResourceProperties("AWS::Scheduler::Schedule", {
      ScheduleExpression: "cron(0 2 * * ? *)",
      ScheduleExpressionTimezone: "UTC",
      FlexibleTimeWindow: { Mode: "OFF" },
      Target: {
        Arn: { "Fn::GetAtt": [watcherId, "Arn"] },
        Input: JSON.stringify({ scheduledTime: "<aws.scheduler.scheduled-time>" }),
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 6 * 3600 },
        DeadLetterConfig: { Arn: { "Fn::GetAtt": [queueId, "Arn"] } },
      },
    });
  });

  it("carries on an unfinished night at :20 and :40 from 02:20 to 05:40, with no retries and no dead letters", () => {
    template.hasResourceProperties("AWS::Scheduler::Schedule", {
      ScheduleExpression: "cron(20/20 2-5 * * ? *)",
      ScheduleExpressionTimezone: "UTC",
      Target: {
        Arn: { "Fn::GetAtt": [watcherId, "Arn"] },
        Input: JSON.stringify({ scheduledTime: "<aws.scheduler.scheduled-time>", continuation: true }),
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 900 },
        DeadLetterConfig: Match.absent(),
      },
    });
  });

  it("retries a failed run the same way and then sends it to the same dead-letter queue", () => {
    template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: { Ref: watcherId },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": [queueId, "Arn"] } } },
    });
  });

  it("takes its cron and time zone from context", () => {
    const custom = synthDesk({ watcherSchedule: "cron(30 1 * * ? *)", watcherTimezone: "Europe/Berlin" });
    custom.template.hasResourceProperties("AWS::Scheduler::Schedule", {
      ScheduleExpression: "cron(30 1 * * ? *)",
      ScheduleExpressionTimezone: "Europe/Berlin",
    });
  });

  it("has an encrypted, TLS-only dead-letter queue", () => {
    template.hasResourceProperties("AWS::SQS::Queue", {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 86400,
    });
    template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });
});
