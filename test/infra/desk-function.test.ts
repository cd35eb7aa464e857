import { describe, expect, it } from "vitest";
import { routes } from "../../shared/api/routes.ts";
import { VENDOR_PASSWORD } from "../support/secrets.ts";
import {
  actionsOf,
  deskFunctions,
  functionOf,
  logicalId,
  resourcesOfType,
  routeFunction,
  type Statement,
  shippedDesk,
  statementsOf,
  synthDesk,
} from "./support.ts";

/** Every function of the stack as infra/desk-function.ts builds it, and what each may do (IAM). */
const { stack, template, json } = shippedDesk();
const tableId = logicalId(stack, stack.table);
const topicId = logicalId(stack, stack.alerts.topic);
const keyId = logicalId(stack, stack.alerts.key);
const queueId = logicalId(stack, stack.watcher.deadLetterQueue);

describe("the functions", () => {
  it("are one per route, the authorizer, the watcher and the reconciler: Node.js 22 on arm64, JSON logs to their own group", () => {
    template.resourceCountIs("AWS::Lambda::Function", routes.length + 3);
    expect([...stack.routeFunctions.keys()].sort()).toEqual(routes.map((r) => r.handler).sort());
    for (const desk of deskFunctions(stack)) {
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
    expect(groups).toHaveLength(deskFunctions(stack).length + 1);
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
      const { env } = functionOf(stack, json, routeFunction(stack, route.handler));
      expect(env).toMatchObject({ BILLMGR_TIMEOUT_MS: "8000", BILLMGR_RETRIES: "1" });
      expect(Number(env.BILLMGR_TIMEOUT_MS) * (Number(env.BILLMGR_RETRIES) + 2)).toBeLessThan(29_000);
    }
    const watcher = functionOf(stack, json, stack.watcher.function).env;
    expect(watcher).not.toHaveProperty("BILLMGR_TIMEOUT_MS");
  });

  it("get the register's name; vendor routes and the watcher the vendor URL and the credentials parameter's name", () => {
    for (const route of routes) {
      const { env } = functionOf(stack, json, routeFunction(stack, route.handler));
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
    expect(functionOf(stack, json, routeFunction(stack, "list-licences")).env).not.toHaveProperty(
      "BILLMGR_CREDENTIALS_PARAM",
    );
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
      BALANCE_FORECAST_DAYS: "30",
      EXPIRING_SOON_DAYS: "30",
      VENDOR_CONCURRENCY: "4",
      REGISTER_CONCURRENCY: "16",
    });
  });

  it("carry no secret: no password, no credentials or token values, only parameter names", () => {
    const text = JSON.stringify(json);
    expect(text).not.toContain("sandbox-secret");
    expect(text).not.toContain(VENDOR_PASSWORD);
    for (const desk of deskFunctions(stack)) {
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
      const { resource } = functionOf(stack, json, routeFunction(stack, route.handler));
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
      ...routes.filter((r) => r.vendor).map((r) => routeFunction(stack, r.handler)),
      stack.watcher.function,
      stack.reconciler.function,
    ];
    for (const desk of reporting)
      expect(functionOf(stack, json, desk).env.POWERTOOLS_SERVICE_NAME).toBe("LicenceDesk");
    for (const desk of [stack.authorizer, routeFunction(stack, "list-licences")])
      expect(functionOf(stack, json, desk).env).not.toHaveProperty("POWERTOOLS_SERVICE_NAME");
  });

  it("turn source-mapped stack traces on only when asked (they cost init time)", () => {
    for (const desk of deskFunctions(stack))
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
      const actions = statementsOf(stack, json, routeFunction(stack, handler)).flatMap(actionsOf);
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
    expect(recording.sort()).toEqual([
      "change-product",
      "order-licence",
      "renew-licence",
      "settle-outcome",
      "successor-licence",
    ]);
    for (const route of routes.filter((r) => r.vendor)) {
      const statements = statementsOf(stack, json, routeFunction(stack, route.handler));
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
    const statements = statementsOf(stack, json, routeFunction(stack, "order-licence"));
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
