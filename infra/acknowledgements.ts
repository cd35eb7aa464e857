import { Validations } from "aws-cdk-lib";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import type { IConstruct } from "constructs";
import type { LicenceDeskStack } from "./stack.ts";

export interface Acknowledgement {
  /** The construct the finding is acknowledged on (and everything under it). */
  scope: IConstruct;
  id: string;
  reason: string;
}

/**
 * Every cdk-nag AwsSolutions finding this stack keeps, each on the narrowest construct it concerns, with
 * why. Everything else was fixed instead: own roles with log-group-only policies (no AWS managed
 * policies), the register's actions and indexes by name (no wildcards), `kms:GenerateDataKey` rather than
 * `kms:GenerateDataKey*`, an encrypted TLS-only topic and queue, PITR, access logs, log retention.
 */
export function acknowledgements(stack: LicenceDeskStack): Acknowledgement[] {
  const accountLogsRole = stack.api.api.node.tryFindChild("CloudWatchRole");
  const functions = [
    stack.authorizer,
    ...stack.routeFunctions.values(),
    stack.watcher.function,
    stack.reconciler.function,
  ];
  const logicalId = (fn: { function: { node: { defaultChild?: unknown } } }) =>
    stack.getLogicalId(fn.function.node.defaultChild as CfnFunction);
  const watcherLogicalId = logicalId(stack.watcher.function);
  return [
    ...functions.map((fn) => ({
      scope: fn.function,
      id: "AwsSolutions-L1",
      reason:
        "nodejs22.x on purpose: infra/bundling.ts targets node22 and the cold-start figures (bench/bundles.ts) " +
        "were measured for it; Node.js 22 is an LTS line supported until April 2027. Move to nodejs24.x " +
        "together with the bundling target and a new bench run.",
    })),
    {
      scope: stack.api.api,
      id: "AwsSolutions-APIG2",
      reason:
        "The validator checks request parameters (path, required query parameters, Idempotency-Key). Bodies " +
        "are validated by the handlers' valibot schemas before any vendor call: they check what JSON Schema " +
        "draft-04 models cannot (IP addresses, calendar dates, trimming, per-product periods and nodes), and " +
        "a model's refusal would lack the details.fields the API documents. Enabling body validation without " +
        "models would only appear to validate.",
    },
    {
      scope: stack.api.api,
      id: "AwsSolutions-APIG3",
      reason:
        "No WAF: the callers are the reseller's own billing panel and scripts holding bearer tokens; every " +
        "method requires the token authorizer, and stage throttling caps the request rate. A web ACL " +
        "(at least $5/month plus rules and $0.60 per million requests) would cost more than the rest of the " +
        "stack at this volume; associate one with the stage if the API must face untrusted networks.",
    },
    {
      scope: stack.api.api,
      id: "AwsSolutions-APIG6",
      reason:
        "No execution logging: API Gateway writes it to a log group it creates itself " +
        "(API-Gateway-Execution-Logs_<api>/<stage>), outside this stack and without a retention, and at INFO " +
        "it records request data. Every request is in the stack's JSON access log (status, latency, client, " +
        "authorizer and integration errors), and every function logs its own errors.",
    },
    {
      scope: stack.api.api,
      id: "AwsSolutions-COG4",
      reason:
        "The API's callers are machines, not people: API clients hold bearer tokens that our REQUEST " +
        "authorizer checks against the SHA-256 hashes in the SSM tokens parameter (constant-time, per-client " +
        "names for the audit trail). A Cognito user pool would add sign-up and passwords nobody uses.",
    },
    {
      scope: stack.watcher.deadLetterQueue,
      id: "AwsSolutions-SQS3",
      reason:
        "This queue is the dead-letter queue: the schedule's undeliverable invocations and the watcher's " +
        "failed runs end here, an alarm fires on the first message, and messages are kept 14 days. A " +
        "dead-letter queue for it would only move the same messages once more.",
    },
    {
      scope: stack.watcher.scheduleRole,
      id: `AwsSolutions-IAM5[Resource::<${watcherLogicalId}.Arn>:*]`,
      reason:
        "The schedule's role may invoke the watcher function only: CDK's LambdaInvoke target grants " +
        "lambda:InvokeFunction on the function's ARN and on its qualified ARNs (<arn>:*, its versions and " +
        "aliases). No other function or action is reachable.",
    },
    {
      scope: stack.reconciler.scheduleRole,
      id: `AwsSolutions-IAM5[Resource::<${logicalId(stack.reconciler.function)}.Arn>:*]`,
      reason:
        "The schedule's role may invoke the reconciler function only: CDK's LambdaInvoke target grants " +
        "lambda:InvokeFunction on the function's ARN and on its qualified ARNs (<arn>:*). No other function " +
        "or action is reachable.",
    },
    ...(accountLogsRole
      ? [
          {
            scope: accountLogsRole,
            id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            reason:
              "This is the region's API Gateway CloudWatch Logs role (AWS::ApiGateway::Account), which REST API " +
              "access logs require and which every REST API of the account and region shares. AWS's managed " +
              "AmazonAPIGatewayPushToCloudWatchLogs policy is the one AWS documents for it; a policy scoped to " +
              "this stack's log group would break the logging of every other API in the region. Context " +
              "apiGatewayCloudWatchRole=false leaves the setting to whoever manages it.",
          },
        ]
      : []),
  ];
}

/** Records the acknowledgements on their constructs, where cdk-nag (and `cdk synth`) read them. */
export function acknowledgeFindings(stack: LicenceDeskStack): void {
  for (const { scope, id, reason } of acknowledgements(stack))
    Validations.of(scope).acknowledge({ id, reason });
}
