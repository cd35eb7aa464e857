import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../infra/desk-function.ts";
import { routes } from "../../shared/api/routes.ts";
import { registerTable } from "../../shared/register/table.ts";
import { VENDOR_PASSWORD } from "../support/secrets.ts";
import {
  actionsOf,
  dashboardBody,
  functionOf,
  logicalId,
  resourcesOfType,
  type Statement,
  statementsOf,
  synthDesk,
} from "./support.ts";

const { stack, template, json } = synthDesk();
const tableId = logicalId(stack, stack.table);
const topicId = logicalId(stack, stack.alerts.topic);
const keyId = logicalId(stack, stack.alerts.key);
const queueId = logicalId(stack, stack.watcher.deadLetterQueue);
const watcherId = logicalId(stack, stack.watcher.function.function);
const authorizerFnId = logicalId(stack, stack.authorizer.function);
const allFunctions = [
  stack.authorizer,
  ...stack.routeFunctions.values(),
  stack.watcher.function,
  stack.reconciler.function,
];
const fn = (handler: string) => {
  const found = stack.routeFunctions.get(handler);
  if (!found) throw new Error(`no function for ${handler}`);
  return found;
};

describe("the register table", () => {
  it("is on-demand, with PITR, TTL on expiresAt, deletion protection, retained, keys from registerTable", () => {
    template.resourceCountIs("AWS::DynamoDB::Table", 1);
    template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: {
        BillingMode: "PAY_PER_REQUEST",
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: registerTable.ttlAttribute, Enabled: true },
        DeletionProtectionEnabled: true,
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
      },
    });
  });

  it("has the two indexes of registerTable, projecting every attribute", () => {
    const [, table] = resourcesOfType(json, "AWS::DynamoDB::Table")[0] ?? [];
    const indexes = table?.Properties?.GlobalSecondaryIndexes as any[];
    expect(indexes.map((i) => i.IndexName).sort()).toEqual(["byExpiry", "byStatus"]);
    for (const index of registerTable.indexes) {
      expect(indexes).toContainEqual({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: "HASH" },
          { AttributeName: index.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      });
    }
  });
});

describe("the functions", () => {
  it("are one per route, the authorizer, the watcher and the reconciler: Node.js 22 on arm64, JSON logs to their own group", () => {
    template.resourceCountIs("AWS::Lambda::Function", routes.length + 3);
    expect([...stack.routeFunctions.keys()].sort()).toEqual(routes.map((r) => r.handler).sort());
    for (const desk of allFunctions) {
      const { resource } = functionOf(stack, json, desk);
      expect(resource.Properties).toMatchObject({
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        Handler: "index.handler",
        LoggingConfig: { LogFormat: "JSON", LogGroup: { Ref: logicalId(stack, desk.logGroup) } },
      });
      const vendorRoute = routes.some((r) => r.vendor && stack.routeFunctions.get(r.handler) === desk);
      expect(resource.Properties?.ReservedConcurrentExecutions).toBe(
        desk === stack.watcher.function || desk === stack.reconciler.function
          ? 1
          : vendorRoute
            ? 2
            : undefined,
      );
    }
  });

  it("keep their logs 90 days by default, the API's access log too", () => {
    const groups = resourcesOfType(json, "AWS::Logs::LogGroup");
    expect(groups).toHaveLength(allFunctions.length + 1);
    for (const [, group] of groups) {
      expect(group.Properties?.RetentionInDays).toBe(90);
      expect(group.DeletionPolicy).toBe("Delete");
    }
  });

  it("stop the API functions below API Gateway's 29 s and size the watcher for 10,000 licences", () => {
    for (const desk of [stack.authorizer, ...stack.routeFunctions.values()]) {
      expect(functionOf(stack, json, desk).resource.Properties).toMatchObject({
        Timeout: 25,
        MemorySize: 512,
      });
    }
    expect(functionOf(stack, json, stack.watcher.function).resource.Properties).toMatchObject({
      Timeout: 900,
      MemorySize: 1024,
      ReservedConcurrentExecutions: 1,
    });
  });

  it("bound the vendor's time on a route below the gateway's 29 s: one read tried twice and one call, 8 s each", () => {
    for (const route of routes.filter((r) => r.vendor)) {
      const { env } = functionOf(stack, json, fn(route.handler));
      expect(env).toMatchObject({ BILLMGR_TIMEOUT_MS: "8000", BILLMGR_RETRIES: "1" });
      expect(Number(env.BILLMGR_TIMEOUT_MS) * (Number(env.BILLMGR_RETRIES) + 2)).toBeLessThan(29_000);
    }
    const watcher = functionOf(stack, json, stack.watcher.function).env;
    expect(watcher).not.toHaveProperty("BILLMGR_TIMEOUT_MS");
  });

  it("get the register's name; vendor routes and the watcher the vendor URL and the credentials parameter's name", () => {
    for (const route of routes) {
      const { env } = functionOf(stack, json, fn(route.handler));
      expect(env.TABLE_NAME).toEqual({ Ref: tableId });
      if (route.vendor) {
        expect(env).toMatchObject({
          BILLMGR_URL: "https://api.ispmanager.com/manager/billmgr",
          BILLMGR_CREDENTIALS_PARAM: "/licence-desk/billmgr-credentials",
          BILLMGR_CREDENTIALS_TTL_SECONDS: "300",
        });
      } else {
        expect(Object.keys(env).filter((k) => k.startsWith("BILLMGR_"))).toEqual([]);
      }
      expect(env.API_TOKENS_PARAM).toBeUndefined();
    }
    expect(functionOf(stack, json, fn("list-licences")).env).not.toHaveProperty("BILLMGR_CREDENTIALS_PARAM");
  });

  it("give the authorizer the tokens parameter's name and nothing of the register or the vendor", () => {
    const { env } = functionOf(stack, json, stack.authorizer);
    expect(env).toEqual({ API_TOKENS_PARAM: "/licence-desk/api-tokens", API_TOKENS_TTL_SECONDS: "60" });
  });

  it("give the watcher the topic, its leads and thresholds", () => {
    const { env } = functionOf(stack, json, stack.watcher.function);
    expect(env).toMatchObject({
      ALERT_TOPIC_ARN: { Ref: topicId },
      TABLE_NAME: { Ref: tableId },
      BILLMGR_CREDENTIALS_PARAM: "/licence-desk/billmgr-credentials",
      RENEWAL_LEAD_DAYS: "3",
      EARLY_RENEWAL_DAYS: "7",
      EXPIRY_ALERT_DAYS: "14,7,3,1",
      LIFECYCLE_ALERT_DAYS: "30,14,7,1",
      BALANCE_FORECAST_DAYS: "7",
      EXPIRING_SOON_DAYS: "30",
      VENDOR_CONCURRENCY: "4",
      REGISTER_CONCURRENCY: "16",
    });
  });

  it("carry no secret: no password, no credentials or token values, only parameter names", () => {
    const text = JSON.stringify(json);
    expect(text).not.toContain("sandbox-secret");
    expect(text).not.toContain(VENDOR_PASSWORD);
    for (const desk of allFunctions) {
      const { env } = functionOf(stack, json, desk);
      for (const forbidden of [
        "BILLMGR_CREDENTIALS",
        "API_TOKEN",
        "SANDBOX_CREDENTIALS",
        "OUTBOX_FILE",
        "NOW",
      ])
        expect(env).not.toHaveProperty(forbidden);
      for (const [name, value] of Object.entries(env)) {
        expect(name).not.toMatch(/password|secret/i);
        if (typeof value === "string" && !/^(arn|https?):/.test(value))
          expect(value, `${name} looks like user:password`).not.toMatch(/^[^\s:/]+:\S+$/);
      }
    }
  });

  it("bound the vendor's load from the API: each vendor route reserves 2 concurrent runs, the others none", () => {
    for (const route of routes) {
      const { resource } = functionOf(stack, json, fn(route.handler));
      expect(resource.Properties?.ReservedConcurrentExecutions).toBe(route.vendor ? 2 : undefined);
    }
    const wider = synthDesk({ vendorRouteConcurrency: 5 });
    expect(
      functionOf(wider.stack, wider.json, wider.stack.routeFunctions.get("order-licence") as never).resource
        .Properties?.ReservedConcurrentExecutions,
    ).toBe(5);
    const unbounded = synthDesk({ vendorRouteConcurrency: 0 });
    for (const desk of unbounded.stack.routeFunctions.values())
      expect(functionOf(unbounded.stack, unbounded.json, desk).resource.Properties).not.toHaveProperty(
        "ReservedConcurrentExecutions",
      );
  });

  it("name the stack as the service of the metrics of every function that calls the vendor", () => {
    const reporting = [
      ...routes.filter((r) => r.vendor).map((r) => fn(r.handler)),
      stack.watcher.function,
      stack.reconciler.function,
    ];
    for (const desk of reporting)
      expect(functionOf(stack, json, desk).env.POWERTOOLS_SERVICE_NAME).toBe("LicenceDesk");
    for (const desk of [stack.authorizer, fn("list-licences")])
      expect(functionOf(stack, json, desk).env).not.toHaveProperty("POWERTOOLS_SERVICE_NAME");
  });

  it("turn source-mapped stack traces on only when asked (they cost init time)", () => {
    for (const desk of allFunctions)
      expect(functionOf(stack, json, desk).env).not.toHaveProperty("NODE_OPTIONS");
    const withMaps = synthDesk({ enableSourceMaps: true });
    expect(functionOf(withMaps.stack, withMaps.json, withMaps.stack.authorizer).env).toMatchObject({
      NODE_OPTIONS: "--enable-source-maps",
    });
  });
});

describe("IAM", () => {
  const allStatements = (): Statement[] =>
    Object.values(json.Resources).flatMap((resource) => {
      const documents = [
        resource.Properties?.PolicyDocument,
        resource.Properties?.KeyPolicy,
        ...((resource.Properties?.Policies as any[]) ?? []).map((p) => p.PolicyDocument),
      ];
      return documents.filter(Boolean).flatMap((doc) => doc.Statement as Statement[]);
    });

  it("allows no wildcard action anywhere, but for the key policy's own account administration", () => {
    for (const statement of allStatements().filter((s) => s.Effect === "Allow")) {
      const wild = actionsOf(statement).filter((a) => a.includes("*"));
      if (wild.length === 0) continue;
      // The KMS default: the account root administers its key (IAM policies then decide who uses it).
      expect(wild).toEqual(["kms:*"]);
      expect(JSON.stringify(statement.Principal)).toContain(":root");
    }
  });

  it("uses no AWS managed policy but for the region's API Gateway logging role: every role has its own", () => {
    const managed = resourcesOfType(json, "AWS::IAM::Role").filter(
      ([, role]) => role.Properties?.ManagedPolicyArns,
    );
    expect(managed).toHaveLength(1);
    expect(JSON.stringify(managed[0]?.[1].Properties?.ManagedPolicyArns)).toContain(
      ":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
    );
    expect(managed[0]?.[1].Properties?.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({
      Service: "apigateway.amazonaws.com",
    });
  });

  it("lets the register-only routes (list-licences, list-outcomes) read the register and nothing else: no write, no SSM", () => {
    const readers = routes.filter((r) => !r.vendor).map((r) => r.handler);
    expect(readers.sort()).toEqual(["list-licences", "list-outcomes"]);
    for (const handler of readers) {
      const actions = statementsOf(stack, json, fn(handler)).flatMap(actionsOf);
      expect(new Set(actions), handler).toEqual(
        new Set([
          "logs:CreateLogStream",
          "logs:PutLogEvents",
          "dynamodb:GetItem",
          "dynamodb:BatchGetItem",
          "dynamodb:Query",
        ]),
      );
    }
  });

  it("lets the authorizer read the tokens parameter only: no table, no credentials", () => {
    const statements = statementsOf(stack, json, stack.authorizer);
    expect(statements.flatMap(actionsOf).filter((a) => a.startsWith("dynamodb:"))).toEqual([]);
    const ssm = statements.filter((s) => actionsOf(s).includes("ssm:GetParameter"));
    expect(ssm).toHaveLength(1);
    expect(JSON.stringify(ssm[0]?.Resource)).toContain(":parameter/licence-desk/api-tokens");
    expect(JSON.stringify(statements)).not.toContain("billmgr-credentials");
  });

  it("lets every vendor route read and write the register and read the credentials parameter, nothing more; those that record alerts batch-write them", () => {
    const recording = routes.filter((r) => r.alerts).map((r) => r.handler);
    // A money call settled on a retry, left to staff, or settled by an operator records its alert there and then.
    expect(recording.sort()).toEqual(["order-licence", "renew-licence", "settle-outcome"]);
    for (const route of routes.filter((r) => r.vendor)) {
      const statements = statementsOf(stack, json, fn(route.handler));
      expect(new Set(statements.flatMap(actionsOf)), route.handler).toEqual(
        new Set([
          "logs:CreateLogStream",
          "logs:PutLogEvents",
          "dynamodb:GetItem",
          "dynamodb:BatchGetItem",
          "dynamodb:Query",
          "dynamodb:PutItem",
          "dynamodb:UpdateItem",
          "dynamodb:DeleteItem",
          ...(route.alerts ? ["dynamodb:BatchWriteItem"] : []),
          "ssm:GetParameter",
        ]),
      );
      const ssm = statements.find((s) => actionsOf(s).includes("ssm:GetParameter"));
      expect(JSON.stringify(ssm?.Resource)).toContain(":parameter/licence-desk/billmgr-credentials");
      expect(JSON.stringify(statements)).not.toContain("api-tokens");
    }
  });

  it("names the table and each index, never index/*", () => {
    const statements = statementsOf(stack, json, fn("order-licence"));
    const text = JSON.stringify(statements);
    expect(text).toContain("/index/byExpiry");
    expect(text).toContain("/index/byStatus");
    expect(text).not.toContain("/index/*");
  });

  it("lets the watcher publish to the alert topic (and use its key), and send to its dead-letter queue", () => {
    const statements = statementsOf(stack, json, stack.watcher.function);
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: "sns:Publish", Resource: { Ref: topicId } }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ["kms:GenerateDataKey", "kms:Decrypt"],
        Resource: { "Fn::GetAtt": [keyId, "Arn"] },
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(["sqs:SendMessage"]),
        Resource: { "Fn::GetAtt": [queueId, "Arn"] },
      }),
    );
    expect(statements.flatMap(actionsOf)).toContain("dynamodb:PutItem");
  });

  it("adds no KMS grant for the AWS-managed aws/ssm key, and a ViaService-bound one for a customer key", () => {
    const decrypts = (s: ReturnType<typeof synthDesk>) =>
      [...s.stack.routeFunctions.values(), s.stack.authorizer, s.stack.watcher.function].flatMap((desk) =>
        statementsOf(s.stack, s.json, desk).filter(
          (st) => actionsOf(st).includes("kms:Decrypt") && !JSON.stringify(st.Resource).includes("AlertsKey"),
        ),
      );
    expect(decrypts({ stack, template, json } as ReturnType<typeof synthDesk>)).toEqual([]);

    const keyArn = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const withKey = synthDesk({ parameterKmsKeyArn: keyArn });
    const granted = decrypts(withKey);
    // the authorizer, the nine vendor routes and the watcher; list-licences reads no parameter
    expect(granted).toHaveLength(routes.filter((r) => r.vendor).length + 2);
    for (const statement of granted) {
      expect(statement).toMatchObject({
        Action: "kms:Decrypt",
        Resource: keyArn,
        Condition: {
          StringEquals: {
            "kms:ViaService": { "Fn::Join": ["", ["ssm.", { Ref: "AWS::Region" }, ".amazonaws.com"]] },
          },
        },
      });
    }
  });
});

describe("the REST API", () => {
  const resources = Object.fromEntries(resourcesOfType(json, "AWS::ApiGateway::Resource"));
  const pathOf = (ref: unknown): string => {
    const id = (ref as { Ref?: string }).Ref;
    if (!id) return "";
    const resource = resources[id];
    return `${pathOf(resource?.Properties?.ParentId)}/${resource?.Properties?.PathPart}`;
  };
  const methods = resourcesOfType(json, "AWS::ApiGateway::Method").map(([, m]) => ({
    method: m.Properties?.HttpMethod as string,
    path: pathOf(m.Properties?.ResourceId),
    properties: m.Properties as Record<string, any>,
  }));
  const authorizerId = resourcesOfType(json, "AWS::ApiGateway::Authorizer")[0]?.[0];
  const validatorId = resourcesOfType(json, "AWS::ApiGateway::RequestValidator")[0]?.[0];

  it("has one method per route, each proxying to its own function behind the token authorizer and the validator", () => {
    expect(methods).toHaveLength(routes.length);
    for (const route of routes) {
      const method = methods.find((m) => m.method === route.method && m.path === route.path);
      expect(method, `${route.method} ${route.path}`).toBeDefined();
      expect(method?.properties).toMatchObject({
        AuthorizationType: "CUSTOM",
        AuthorizerId: { Ref: authorizerId },
        RequestValidatorId: { Ref: validatorId },
        Integration: { Type: "AWS_PROXY", IntegrationHttpMethod: "POST" },
      });
      expect(JSON.stringify(method?.properties.Integration.Uri)).toContain(
        logicalId(stack, fn(route.handler).function),
      );
    }
  });

  it("requires the parameters the routes require: path ids, ip/product/period, Idempotency-Key on money routes", () => {
    const params = (method: string, path: string) =>
      methods.find((m) => m.method === method && m.path === path)?.properties.RequestParameters;
    expect(params("GET", "/ip-availability")).toEqual({
      "method.request.querystring.ip": true,
      "method.request.querystring.product": true,
      "method.request.querystring.period": true,
    });
    expect(params("POST", "/licenses")).toEqual({ "method.request.header.Idempotency-Key": true });
    expect(params("POST", "/licenses/{id}/renew")).toEqual({
      "method.request.path.id": true,
      "method.request.header.Idempotency-Key": true,
    });
    expect(params("GET", "/licenses")).toEqual({
      "method.request.querystring.status": false,
      "method.request.querystring.expiresBefore": false,
      "method.request.querystring.limit": false,
      "method.request.querystring.cursor": false,
    });
    expect(params("DELETE", "/licenses/{id}")).toEqual({ "method.request.path.id": true });
    expect(params("GET", "/outcomes")).toEqual({ "method.request.querystring.state": false });
    expect(params("POST", "/outcomes/{key}")).toEqual({ "method.request.path.key": true });
  });

  it("validates request parameters (bodies are the handlers')", () => {
    template.hasResourceProperties("AWS::ApiGateway::RequestValidator", {
      ValidateRequestParameters: true,
      ValidateRequestBody: false,
    });
  });

  it("authorizes with a REQUEST authorizer on the Authorization header, cached 300 s", () => {
    template.resourceCountIs("AWS::ApiGateway::Authorizer", 1);
    template.hasResourceProperties("AWS::ApiGateway::Authorizer", {
      Type: "REQUEST",
      IdentitySource: "method.request.header.Authorization",
      AuthorizerResultTtlInSeconds: 300,
    });
    const [, authorizer] = resourcesOfType(json, "AWS::ApiGateway::Authorizer")[0] ?? [];
    expect(JSON.stringify(authorizer?.Properties?.AuthorizerUri)).toContain(authorizerFnId);
  });

  it("throttles the stage (50/s, bursts of 100) and writes a JSON access log", () => {
    const [, stage] = resourcesOfType(json, "AWS::ApiGateway::Stage")[0] ?? [];
    expect(stage?.Properties?.StageName).toBe("v1");
    expect(stage?.Properties?.MethodSettings).toContainEqual(
      expect.objectContaining({
        HttpMethod: "*",
        ResourcePath: "/*",
        ThrottlingRateLimit: 50,
        ThrottlingBurstLimit: 100,
      }),
    );
    const accessLog = stage?.Properties?.AccessLogSetting;
    expect(accessLog.DestinationArn).toEqual({
      "Fn::GetAtt": [logicalId(stack, stack.api.accessLogs), "Arn"],
    });
    const format = JSON.parse(accessLog.Format);
    expect(format).toMatchObject({
      requestId: "$context.requestId",
      status: "$context.status",
      client: "$context.authorizer.client",
    });
  });

  it("answers by itself in the API's error envelope", () => {
    const responses = Object.fromEntries(
      resourcesOfType(json, "AWS::ApiGateway::GatewayResponse").map(([, r]) => [
        r.Properties?.ResponseType,
        r.Properties,
      ]),
    );
    const body = (type: string) =>
      JSON.parse(
        String(responses[type]?.ResponseTemplates?.["application/json"]).replace(
          "$context.error.messageString",
          '"a message"',
        ),
      );
    expect(responses.UNAUTHORIZED?.StatusCode).toBe("401");
    expect(body("UNAUTHORIZED")).toEqual({
      error: { code: "unauthorized", message: "a message", details: {} },
    });
    expect(body("BAD_REQUEST_PARAMETERS").error.code).toBe("invalid_request");
    expect(responses.MISSING_AUTHENTICATION_TOKEN?.StatusCode).toBe("404");
    expect(body("THROTTLED").error.code).toBe("throttled");
    expect(body("INTEGRATION_TIMEOUT")).toMatchObject({
      error: { code: "gateway_timeout" },
      outcome: "unknown",
    });
    expect(body("DEFAULT_5XX").error.code).toBe("internal_error");
    // Never cached on the way, like the functions' own answers.
    for (const type of Object.keys(responses))
      expect(responses[type]?.ResponseParameters, type).toEqual({
        "gatewayresponse.header.Cache-Control": "'no-store'",
      });
  });

  it("is regional", () => {
    template.hasResourceProperties("AWS::ApiGateway::RestApi", {
      EndpointConfiguration: { Types: ["REGIONAL"] },
    });
  });

  it("sets the region's API Gateway logging role, which access logs need, and keeps it; or leaves it, if told", () => {
    template.resourceCountIs("AWS::ApiGateway::Account", 1);
    template.hasResource("AWS::ApiGateway::Account", { DeletionPolicy: "Retain" });
    const left = synthDesk({ apiGatewayCloudWatchRole: false });
    left.template.resourceCountIs("AWS::ApiGateway::Account", 0);
    for (const [, role] of resourcesOfType(left.json, "AWS::IAM::Role"))
      expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
  });
});

describe("the nightly schedule", () => {
  it("runs the watcher at 02:00 UTC with the scheduled time, 2 retries within 6 h and the dead-letter queue", () => {
    template.resourceCountIs("AWS::Scheduler::Schedule", 2);
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

  it("retries a failed run the same way and then sends it to the same dead-letter queue", () => {
    template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: { Ref: watcherId },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": [queueId, "Arn"] } } },
    });
  });

  it("runs the reconciler every 15 minutes, below API Gateway's limits, with no retries (the next pass is the retry)", () => {
    const reconcilerId = logicalId(stack, stack.reconciler.function.function);
    template.hasResourceProperties("AWS::Scheduler::Schedule", {
      ScheduleExpression: "rate(15 minutes)",
      Target: { Arn: { "Fn::GetAtt": [reconcilerId, "Arn"] }, RetryPolicy: { MaximumRetryAttempts: 0 } },
    });
    expect(functionOf(stack, json, stack.reconciler.function).resource.Properties).toMatchObject({
      Timeout: 300,
      ReservedConcurrentExecutions: 1,
    });
    expect(functionOf(stack, json, stack.reconciler.function).env).toMatchObject({
      ALERT_TOPIC_ARN: expect.anything(),
      BILLMGR_CREDENTIALS_PARAM: expect.any(String),
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

describe("alerts", () => {
  it("go to a topic encrypted with a rotating customer key that CloudWatch may use, TLS only", () => {
    template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: { "Fn::GetAtt": [keyId, "Arn"] } });
    template.hasResourceProperties("AWS::KMS::Key", {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Allow",
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: ["kms:Decrypt", "kms:GenerateDataKey"],
          }),
        ]),
      },
    });
    template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });

  it("may be published by the alarms, which the topic's own policy would otherwise refuse", () => {
    const [, policy] = resourcesOfType(json, "AWS::SNS::TopicPolicy")[0] ?? [];
    const allow = ((policy?.Properties?.PolicyDocument.Statement ?? []) as Statement[]).filter(
      (s) => s.Effect === "Allow",
    );
    expect(allow).toHaveLength(1);
    expect(allow[0]).toMatchObject({
      Principal: { Service: "cloudwatch.amazonaws.com" },
      Action: "sns:Publish",
      Resource: { Ref: topicId },
      Condition: { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } },
    });
    const sources = allow[0]?.Condition?.ArnEquals?.["aws:SourceArn"] as unknown[];
    expect(new Set(sources)).toEqual(
      new Set(stack.alarms.all().map((a) => ({ "Fn::GetAtt": [logicalId(stack, a), "Arn"] }))),
    );
  });

  it("are mailed to the addresses in context, and to nobody by default", () => {
    template.resourceCountIs("AWS::SNS::Subscription", 0);
    const mailed = synthDesk({ alertEmails: ["ops@example.com", "billing@example.com"] });
    mailed.template.resourceCountIs("AWS::SNS::Subscription", 2);
    for (const address of ["ops@example.com", "billing@example.com"]) {
      mailed.template.hasResourceProperties("AWS::SNS::Subscription", {
        Protocol: "email",
        Endpoint: address,
        TopicArn: { Ref: topicId },
      });
    }
    // from the command line: -c alertEmails=a@x.org,b@y.org
    synthDesk({ alertEmails: "a@example.org, b@example.org" }).template.resourceCountIs(
      "AWS::SNS::Subscription",
      2,
    );
  });
});

describe("alarms", () => {
  const alarms = resourcesOfType(json, "AWS::CloudWatch::Alarm").map(
    ([, a]) => a.Properties as Record<string, any>,
  );
  const alarm = (id: keyof typeof stack.alarms) =>
    json.Resources[logicalId(stack, stack.alarms[id] as never)]?.Properties as Record<string, any>;

  it("are ten, each mailing the alert topic", () => {
    expect(alarms).toHaveLength(10);
    for (const a of alarms) expect(a.AlarmActions).toEqual([{ Ref: topicId }]);
  });

  it("fire on any watcher error", () => {
    expect(alarm("watcherErrors")).toMatchObject({
      MetricName: "Errors",
      Namespace: "AWS/Lambda",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: watcherId } }],
      Statistic: "Sum",
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
    });
  });

  it("fire on any reconciler error or timeout, over a 15-minute pass", () => {
    expect(alarm("reconcilerErrors")).toMatchObject({
      MetricName: "Errors",
      Namespace: "AWS/Lambda",
      Dimensions: [
        { Name: "FunctionName", Value: { Ref: logicalId(stack, stack.reconciler.function.function) } },
      ],
      Statistic: "Sum",
      Period: 900,
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
    });
  });

  it("fire when no watcher run succeeded in 26 hours (invocations minus errors, missing data breaching)", () => {
    const missed = alarm("watcherMissedNight");
    expect(missed).toMatchObject({
      EvaluationPeriods: 26,
      DatapointsToAlarm: 26,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
    });
    const expression = missed.Metrics.find((m: any) => m.Expression);
    expect(expression.Expression).toBe("FILL(invocations, 0) - FILL(errors, 0)");
    const metrics = missed.Metrics.filter((m: any) => m.MetricStat);
    expect(
      metrics.map((m: any) => [m.Id, m.MetricStat.Metric.MetricName, m.MetricStat.Period]).sort(),
    ).toEqual([
      ["errors", "Errors", 3600],
      ["invocations", "Invocations", 3600],
    ]);
  });

  it("fire when the dead-letter queue holds a message", () => {
    expect(alarm("deadLetters")).toMatchObject({
      MetricName: "ApproximateNumberOfMessagesVisible",
      Namespace: "AWS/SQS",
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
    });
  });

  it("fire when over 5% of API requests answer 5xx in 5 minutes", () => {
    const rate = alarm("api5xxRate");
    expect(rate).toMatchObject({
      Threshold: 5,
      ComparisonOperator: "GreaterThanThreshold",
      EvaluationPeriods: 1,
    });
    expect(rate.Metrics.find((m: any) => m.Expression).Expression).toBe(
      "IF(requests > 0, 100 * errors / requests, 0)",
    );
    const names = rate.Metrics.filter((m: any) => m.MetricStat).map(
      (m: any) => m.MetricStat.Metric.MetricName,
    );
    expect(names.sort()).toEqual(["5XXError", "Count"]);
    for (const m of rate.Metrics.filter((m: any) => m.MetricStat)) {
      expect(m.MetricStat).toMatchObject({ Period: 300, Stat: "Sum" });
      expect(m.MetricStat.Metric.Dimensions.map((d: any) => d.Name).sort()).toEqual(["ApiName", "Stage"]);
    }
    expect(synthDesk({ api5xxRatePercent: 2 }).json.Resources).toSatisfy((resources: object) =>
      JSON.stringify(resources).includes('"Threshold":2'),
    );
  });

  it("fire when the authorizer fails more than the threshold in 5 minutes", () => {
    expect(alarm("authorizerErrors")).toMatchObject({
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: authorizerFnId } }],
      Threshold: 10,
      Period: 300,
    });
  });

  /** The desk's own series: the stack's name as Powertools' `service`, and these dimensions besides. */
  const desk = (extra: Array<{ Name: string; Value: string }> = []) => [
    { Name: "service", Value: "LicenceDesk" },
    ...extra,
  ];

  it("fire when an alert could not be published (watcher or reconciler)", () => {
    expect(alarm("alertsUndelivered")).toMatchObject({
      Namespace: "LicenceDesk",
      MetricName: "AlertsUndelivered",
      Dimensions: desk(),
      Statistic: "Sum",
      Period: 300,
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
      TreatMissingData: "notBreaching",
    });
  });

  it("fire when unknown outcomes past their settle window stay undecided through two reconciler passes", () => {
    expect(alarm("unknownOutcomesOverdue")).toMatchObject({
      Namespace: "LicenceDesk",
      MetricName: "UnknownOutcomesOverdue",
      Dimensions: desk(),
      Statistic: "Maximum",
      Period: 900,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
    });
  });

  it("fire when over 10% of vendor attempts fail (no answer, timeout, throttled) two 5-minute periods running", () => {
    const rate = alarm("vendorFailureRate");
    expect(rate).toMatchObject({
      Threshold: 10,
      ComparisonOperator: "GreaterThanThreshold",
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
    });
    const stats = rate.Metrics.filter((m: any) => m.MetricStat);
    expect(stats.map((m: any) => m.Id).sort()).toEqual(
      ["ok", "throttled", "timeout", "unavailable", "vendor_error"].sort(),
    );
    for (const m of stats) {
      expect(m.MetricStat).toMatchObject({ Period: 300, Stat: "SampleCount" });
      expect(m.MetricStat.Metric).toEqual({
        Namespace: "LicenceDesk",
        MetricName: "VendorCall",
        Dimensions: expect.arrayContaining(desk([{ Name: "result", Value: m.Id }])),
      });
      expect(m.MetricStat.Metric.Dimensions).toHaveLength(2);
    }
    // The failures over all attempts: the vendor's own refusals (vendor_error) count as answers.
    const all =
      "FILL(ok, 0) + FILL(vendor_error, 0) + FILL(unavailable, 0) + FILL(timeout, 0) + FILL(throttled, 0)";
    expect(rate.Metrics.find((m: any) => m.Expression).Expression).toBe(
      `IF((${all}) > 0, 100 * (FILL(unavailable, 0) + FILL(timeout, 0) + FILL(throttled, 0)) / (${all}), 0)`,
    );
    expect(synthDesk({ vendorErrorRatePercent: 25 }).json.Resources).toSatisfy((resources: object) =>
      JSON.stringify(resources).includes('"Threshold":25'),
    );
  });

  it("fire when no nightly summary was sent in 26 hours, missing data breaching", () => {
    const missed = alarm("missedSummary");
    expect(missed).toMatchObject({
      EvaluationPeriods: 26,
      DatapointsToAlarm: 26,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
    });
    expect(missed.Metrics.find((m: any) => m.Expression).Expression).toBe("FILL(summaries, 0)");
    expect(missed.Metrics.find((m: any) => m.MetricStat).MetricStat).toEqual({
      Metric: { Namespace: "LicenceDesk", MetricName: "SummariesSent", Dimensions: desk() },
      Period: 3600,
      Stat: "Sum",
    });
  });
});

describe("the dashboard", () => {
  const body = dashboardBody(json);
  const widgets = body.widgets as Array<{ type: string; properties: Record<string, any> }>;
  /** Every metric a widget draws, as `Namespace/Name{dimension=value,...}@stat`. */
  const drawn = widgets.flatMap((w) =>
    ((w.properties.metrics ?? []) as unknown[][]).flatMap((row) => {
      const last = row.at(-1) as Record<string, unknown>;
      if ("expression" in last) return [`expression:${last.expression}`];
      const [namespace, name, ...pairs] = row.slice(0, -1) as string[];
      const dims = [];
      for (let i = 0; i < pairs.length; i += 2) dims.push(`${pairs[i]}=${pairs[i + 1]}`);
      return [`${namespace}/${name}{${dims.join(",")}}@${last.stat}`];
    }),
  );

  it("is one dashboard, its name an output", () => {
    template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
    expect(json.Outputs?.DashboardName?.Value).toEqual({ Ref: logicalId(stack, stack.dashboard.dashboard) });
  });

  it("shows vendor attempts by result, latency by function (a search), and the failure rate's alarm", () => {
    for (const result of ["ok", "vendor_error", "unavailable", "timeout", "throttled"])
      expect(drawn).toContain(`LicenceDesk/VendorCall{result=${result},service=LicenceDesk}@SampleCount`);
    expect(drawn).toContain(
      `expression:SEARCH('{LicenceDesk,func,result,service} MetricName="VendorCall" service="LicenceDesk"', 'p90', 300)`,
    );
  });

  it("shows every money outcome of orders and renewals", () => {
    for (const operation of ["order", "renew"])
      for (const outcome of [
        "applied",
        "refused",
        "unknown",
        "pending",
        "settled_applied",
        "settled_not_applied",
      ])
        expect(drawn).toContain(
          `LicenceDesk/MoneyOutcome{operation=${operation},outcome=${outcome},service=LicenceDesk}@Sum`,
        );
  });

  it("shows each night's renewals, alerts sent and undelivered, summaries, and licences expiring", () => {
    for (const figure of [
      "NightRenewed{service=LicenceDesk}@Sum",
      "NightFailed{service=LicenceDesk}@Sum",
      "AlertsSent{service=LicenceDesk}@Sum",
      "AlertsUndelivered{service=LicenceDesk}@Sum",
      "SummariesSent{service=LicenceDesk}@Sum",
      "ExpiringWithin7Days{service=LicenceDesk}@Maximum",
      "ExpiringWithin30Days{service=LicenceDesk}@Maximum",
    ])
      expect(drawn).toContain(`LicenceDesk/${figure}`);
  });

  it("shows every alarm's state, the new alarms' graphs, and the vendor routes' throttles", () => {
    const status = widgets.find((w) => w.type === "alarm");
    expect(status?.properties.alarms).toHaveLength(stack.alarms.all().length);
    const graphed = widgets.flatMap((w) => w.properties.annotations?.alarms ?? []);
    expect(graphed).toHaveLength(4);
    const throttles = drawn.filter((d) => d.startsWith("AWS/Lambda/Throttles"));
    expect(throttles).toHaveLength(routes.filter((r) => r.vendor).length);
  });

  it("reads the stack's own series: the functions that report name it as Powertools' service", () => {
    const other = dashboardBody(synthDesk({}, "OtherDesk").json);
    expect(JSON.stringify(other)).toContain('"service","OtherDesk"');
    expect(JSON.stringify(other)).not.toContain('"service","LicenceDesk"');
  });
});

describe("context", () => {
  it("sets the log retention of every group", () => {
    const short = synthDesk({ logRetentionDays: 30 });
    for (const [, group] of resourcesOfType(short.json, "AWS::Logs::LogGroup"))
      expect(group.Properties?.RetentionInDays).toBe(30);
  });

  it("sets the parameter names, the vendor URL, throttling and the authorizer cache", () => {
    const custom = synthDesk({
      vendorCredentialsParameter: "/acme/vendor",
      apiTokensParameter: "/acme/tokens",
      billmgrUrl: "https://billing.example.com/billmgr",
      apiThrottleRate: "20",
      apiThrottleBurst: 40,
      authorizerCacheSeconds: 60,
      renewalLeadDays: 5,
    });
    expect(functionOf(custom.stack, custom.json, custom.stack.authorizer).env.API_TOKENS_PARAM).toBe(
      "/acme/tokens",
    );
    expect(functionOf(custom.stack, custom.json, custom.stack.watcher.function).env).toMatchObject({
      BILLMGR_CREDENTIALS_PARAM: "/acme/vendor",
      BILLMGR_URL: "https://billing.example.com/billmgr",
      RENEWAL_LEAD_DAYS: "5",
    });
    custom.template.hasResourceProperties("AWS::ApiGateway::Authorizer", {
      AuthorizerResultTtlInSeconds: 60,
    });
    custom.template.hasResourceProperties("AWS::ApiGateway::Stage", {
      MethodSettings: Match.arrayWith([
        Match.objectLike({ ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 }),
      ]),
    });
    expect(JSON.stringify(custom.json)).toContain(":parameter/acme/vendor");
  });

  it("passes a catalogue given in context to every function that loads one, checked at synth", () => {
    const products = JSON.parse(readFileSync(join(PROJECT_ROOT, "shared/catalogue/products.json"), "utf8"));
    const custom = synthDesk({ catalogueJson: products });
    for (const handler of ["order-licence", "list-licences"]) {
      const desk = custom.stack.routeFunctions.get(handler);
      if (!desk) throw new Error(handler);
      expect(JSON.parse(String(functionOf(custom.stack, custom.json, desk).env.CATALOGUE_JSON))).toEqual(
        products,
      );
    }
    expect(functionOf(custom.stack, custom.json, custom.stack.watcher.function).env).toHaveProperty(
      "CATALOGUE_JSON",
    );
    expect(functionOf(stack, json, fn("order-licence")).env).not.toHaveProperty("CATALOGUE_JSON");
  });

  it("tell the operators' routes, and only them, which clients are operators; nobody by default", () => {
    const operatorRoutes = routes.filter((r) => r.operator).map((r) => r.handler);
    expect(operatorRoutes.sort()).toEqual(["list-outcomes", "settle-outcome"]);
    for (const desk of allFunctions)
      expect(functionOf(stack, json, desk).env).not.toHaveProperty("OPERATOR_CLIENTS");
    // In cdk.json a list; on the command line a JSON list or comma-separated names.
    for (const operatorClients of [["ops", "night shift"], "ops, night shift", '["ops","night shift"]']) {
      const told = synthDesk({ operatorClients });
      for (const [handler, desk] of told.stack.routeFunctions)
        expect(functionOf(told.stack, told.json, desk).env.OPERATOR_CLIENTS, handler).toBe(
          operatorRoutes.includes(handler) ? "ops,night shift" : undefined,
        );
      for (const desk of [told.stack.authorizer, told.stack.watcher.function, told.stack.reconciler.function])
        expect(functionOf(told.stack, told.json, desk).env).not.toHaveProperty("OPERATOR_CLIENTS");
    }
  });

  it.each([
    [{ logRetentionDays: 42 }, /logRetentionDays/],
    [{ alertEmails: ["not-an-address"] }, /alertEmails/],
    [{ billmgrUrl: "http://plain.example.com" }, /billmgrUrl/],
    [{ parameterKmsKeyArn: "alias/aws/ssm" }, /parameterKmsKeyArn/],
    [{ renewalLeadDays: "soon" }, /RENEWAL_LEAD_DAYS/],
    [{ expiryAlertDays: "14;7" }, /EXPIRY_ALERT_DAYS/],
    [{ vendorCredentialsParameter: "has spaces" }, /vendorCredentialsParameter/],
    [{ watcherSchedule: "every night" }, /watcherSchedule/],
    // 02:00 is skipped in Berlin on the spring-forward night: that night would never run.
    [
      { watcherSchedule: "cron(0 2 * * ? *)", watcherTimezone: "Europe/Berlin" },
      /watcherSchedule cron\(0 2 \* \* \? \*\) in Europe\/Berlin: \d{4}-03-\d\d 02:00 does not exist there/,
    ],
    [{ vendorRouteConcurrency: -1 }, /vendorRouteConcurrency/],
    [{ vendorErrorRatePercent: 0 }, /vendorErrorRatePercent/],
    [{ catalogueJson: "{not json" }, /JSON/],
    [{ catalogueJson: { currency: "EUR", products: [] } }, /catalogue/],
    [{ operatorClients: ["ops,night"] }, /operatorClients: not a client name .*"ops,night"/],
    [{ operatorClients: "ops, " }, /operatorClients: not a client name/],
    [{ operatorClients: [42] }, /operatorClients must be a list of API client names/],
  ])("refuses %j at synth", (context, message) => {
    expect(() => synthDesk(context)).toThrow(message);
  });
});
