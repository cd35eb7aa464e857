import { CfnOutput, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import { AttributeType, BillingMode, ProjectionType, Table } from "aws-cdk-lib/aws-dynamodb";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { registerTable } from "../shared/adapters/dynamodb/table.ts";
import { routes } from "../shared/api/routes.ts";
import { acknowledgeFindings } from "./acknowledgements.ts";
import { DeskAlarms } from "./alarms.ts";
import { Alerts } from "./alerts.ts";
import { DeskApi } from "./api.ts";
import { DeskDashboard } from "./dashboard.ts";
import { API_FUNCTION_DEFAULTS, DeskFunction } from "./desk-function.ts";
import { DeskMetrics } from "./desk-metrics.ts";
import { Reconciler } from "./reconciler.ts";
import { SecureParameter } from "./secure-parameter.ts";
import { readSettings } from "./settings.ts";
import { NightlyWatcher } from "./watcher.ts";

/**
 * API Gateway gives a request 29 s; the functions stop at 25 s. Each vendor call has a total limit of 8 s
 * (connect, send, answer), and the request's budget (the function's remaining time less 3 s to record an
 * unknown outcome) bounds them all together: a money call is not sent without time left to finish it,
 * so the vendor's slowness ends as our 502/504, never as a cut-off in the middle of a renewal. The
 * watcher keeps the longer defaults (15 s, 2 retries): it has 15 minutes.
 */
const API_VENDOR_LIMITS = { BILLMGR_TIMEOUT_MS: "8000", BILLMGR_RETRIES: "1" };

/** `order-licence` → `OrderLicence`: construct ids, and so the logical ids, read like the handlers. */
const pascal = (name: string) => name.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase());

/**
 * The licence desk in one stack: the register (DynamoDB), one function per route behind a REST API with a
 * token authorizer, the nightly watcher on EventBridge Scheduler, the alert topic and the alarms into it,
 * and a dashboard of what the desk does.
 * Environment-agnostic (no lookups): `cdk synth` works offline, `cdk deploy` picks the account and region.
 */
export class LicenceDeskStack extends Stack {
  readonly table: Table;
  readonly api: DeskApi;
  readonly watcher: NightlyWatcher;
  readonly reconciler: Reconciler;
  readonly alerts: Alerts;
  readonly alarms: DeskAlarms;
  readonly dashboard: DeskDashboard;
  readonly authorizer: DeskFunction;
  readonly routeFunctions: ReadonlyMap<string, DeskFunction>;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const settings = readSettings(this);
    const logRetention = settings.logRetentionDays as RetentionDays;
    /** What every API-side function shares (the watcher sizes itself). */
    const apiFunction = {
      logRetention,
      sourceMapStackTraces: settings.enableSourceMaps,
      ...API_FUNCTION_DEFAULTS,
    };
    if (API_FUNCTION_DEFAULTS.timeout.toSeconds() >= settings.idempotencyLockSeconds)
      throw new Error(
        "API functions must time out before IDEMPOTENCY_LOCK_SECONDS, or a live request loses its key",
      );

    this.table = new Table(this, "Register", {
      partitionKey: { name: registerTable.partitionKey, type: AttributeType.STRING },
      sortKey: { name: registerTable.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: registerTable.ttlAttribute,
      deletionProtection: true,
      // The register is the business record (licences, audit trail, idempotency): it outlives the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of registerTable.indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.ALL,
      });
    }

    const credentials = new SecureParameter(
      this,
      settings.vendorCredentialsParameter,
      settings.parameterKmsKeyArn,
    );
    const tokens = new SecureParameter(this, settings.apiTokensParameter, settings.parameterKmsKeyArn);
    this.alerts = new Alerts(this, "Alerts", { emails: settings.alertEmails });

    this.authorizer = new DeskFunction(this, "Authorizer", {
      entry: "authorizer",
      description: "API token authorizer (REQUEST, Authorization: Bearer <token>)",
      ...apiFunction,
      environment: { API_TOKENS_TTL_SECONDS: String(settings.apiTokensTtlSeconds) },
      parameters: { API_TOKENS_PARAM: tokens },
    });

    // One function per route. A route that may call the vendor writes the register too (audit entries,
    // fresh licence data) and reads the vendor's credentials; the others only read the register. Those
    // that record alerts (money calls settled or left to staff) batch-write the alert ledger; the
    // operators' routes are told who the operators are.
    // The vendor documents no rate limit and is slow and fragile: each vendor route gets a reserved
    // concurrency, and as each request makes one vendor call at a time, the API never has more than
    // (vendor routes x vendorRouteConcurrency) calls at the vendor, beside the watcher's and reconciler's.
    const routeFunctions = new Map<string, DeskFunction>();
    for (const route of routes) {
      routeFunctions.set(
        route.handler,
        new DeskFunction(this, pascal(route.handler), {
          entry: route.handler,
          description: `${route.method} ${route.path}: ${route.summary}`,
          ...apiFunction,
          environment: {
            ...settings.serviceEnvironment,
            ...(route.vendor && { ...settings.vendorEnvironment, ...API_VENDOR_LIMITS }),
            ...(route.operator &&
              settings.operatorClients.length > 0 && {
                OPERATOR_CLIENTS: settings.operatorClients.join(","),
              }),
          },
          table: { table: this.table, access: route.alerts ? "ledger" : route.vendor ? "readWrite" : "read" },
          parameters: route.vendor ? { BILLMGR_CREDENTIALS_PARAM: credentials } : {},
          reservedConcurrentExecutions: route.vendor ? settings.vendorRouteConcurrency : undefined,
        }),
      );
    }
    this.routeFunctions = routeFunctions;

    this.api = new DeskApi(this, "Http", {
      routes: routes.map((route) => ({
        route,
        handler: (routeFunctions.get(route.handler) as DeskFunction).function,
      })),
      authorizer: this.authorizer.function,
      stageName: settings.apiStageName,
      throttleRate: settings.apiThrottleRate,
      throttleBurst: settings.apiThrottleBurst,
      authorizerCacheSeconds: settings.authorizerCacheSeconds,
      logRetention,
      setAccountLogsRole: settings.apiGatewayCloudWatchRole,
    });

    this.watcher = new NightlyWatcher(this, "Nightly", {
      settings,
      table: this.table,
      credentials,
      alerts: this.alerts,
      logRetention,
    });

    this.reconciler = new Reconciler(this, "Unknowns", {
      settings,
      table: this.table,
      credentials,
      alerts: this.alerts,
      logRetention,
    });

    const metrics = new DeskMetrics(this.stackName);
    this.alarms = new DeskAlarms(this, "Alarms", {
      topic: this.alerts.topic,
      watcher: this.watcher.function.function,
      reconciler: this.reconciler.function.function,
      authorizer: this.authorizer.function,
      deadLetterQueue: this.watcher.deadLetterQueue,
      stage: this.api.api.deploymentStage,
      api5xxRatePercent: settings.api5xxRatePercent,
      authorizerErrorThreshold: settings.authorizerErrorThreshold,
      metrics,
      vendorErrorRatePercent: settings.vendorErrorRatePercent,
    });
    this.dashboard = new DeskDashboard(this, "Operations", {
      metrics,
      alarms: this.alarms,
      stage: this.api.api.deploymentStage,
      vendorRoutes: routes
        .filter((route) => route.vendor)
        .map((route) => (routeFunctions.get(route.handler) as DeskFunction).function),
    });

    acknowledgeFindings(this);

    new CfnOutput(this, "ApiUrl", { value: this.api.api.url, description: "Base URL of the API" });
    new CfnOutput(this, "TableName", { value: this.table.tableName, description: "The register (retained)" });
    new CfnOutput(this, "AlertTopicArn", { value: this.alerts.topic.topicArn });
    new CfnOutput(this, "WatcherFunctionName", {
      value: this.watcher.function.function.functionName,
      description: 'Run a night by hand: aws lambda invoke --payload \'{"date":"YYYY-MM-DD"}\'',
    });
    new CfnOutput(this, "DeadLetterQueueUrl", { value: this.watcher.deadLetterQueue.queueUrl });
    new CfnOutput(this, "DashboardName", {
      value: this.dashboard.dashboard.dashboardName,
      description: "CloudWatch dashboard: the vendor, money outcomes, nights, alarms",
    });
  }
}
