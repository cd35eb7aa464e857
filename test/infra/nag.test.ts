import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { format } from "node:util";
import { App, CfnResource, Validations } from "aws-cdk-lib";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it, vi } from "vitest";
import { acknowledgements } from "../../infra/acknowledgements.ts";
import { PROJECT_ROOT, TABLE_ACTIONS } from "../../infra/desk-function.ts";
import { DEFAULTS } from "../../infra/settings.ts";
import { LicenceDeskStack } from "../../infra/stack.ts";
import { readWatcherConfig } from "../../shared/config.ts";
import { synthDesk } from "./support.ts";

describe("cdk-nag AwsSolutions", () => {
  it("leaves no finding unacknowledged, with or without e-mails and a customer key", () => {
    for (const context of [
      {},
      { apiGatewayCloudWatchRole: false },
      {
        alertEmails: ["ops@example.com"],
        parameterKmsKeyArn: "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      },
    ]) {
      const { stack } = synthDesk(context);
      const report = new AwsSolutionsChecks().validateScope(stack);
      const findings = report.violations.map(
        (v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(", ")}`,
      );
      expect(findings).toEqual([]);
      expect(report.success).toBe(true);
    }
  });

  it("finds what it should when nothing is acknowledged (the check is live)", () => {
    const { stack } = synthDesk();
    // Empty the acknowledgements' metadata entries (shared objects) and look again.
    for (const construct of stack.node.findAll()) {
      for (const entry of construct.node.metadata as Array<{ type: string; data: Record<string, unknown> }>) {
        if (entry.type !== "aws:cdk:acknowledged-rules") continue;
        for (const key of Object.keys(entry.data)) delete entry.data[key];
      }
    }
    const rules = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName);
    expect(rules).toEqual(
      expect.arrayContaining([
        "AwsSolutions-L1",
        "AwsSolutions-APIG3",
        "AwsSolutions-COG4",
        "AwsSolutions-SQS3",
      ]),
    );
  });

  it("fails the synth, as a validation plugin, on a finding nobody acknowledged", () => {
    const outdir = mkdtempSync(join(tmpdir(), "licence-desk-nag-"));
    try {
      const app = new App({ outdir, context: { "aws:cdk:bundling-stacks": [] } });
      const stack = new LicenceDeskStack(app, "LicenceDesk");
      new Queue(stack, "Unacknowledged", { enforceSSL: true });
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      expect(() => app.synth()).toThrow(/AwsSolutions-SQS3/);
      const report = JSON.parse(readFileSync(join(outdir, "validation-report.json"), "utf8"));
      const rules = report.pluginReports.flatMap((r: any) => r.violations.map((v: any) => v.ruleName));
      expect(rules).toEqual(["AwsSolutions-SQS3"]);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it("leaves CDK's built-in CloudFormation validation on for real synths, which reports a broken resource", () => {
    // The tests' synths skip it for speed (support.ts); the bundling synth asserts it finds nothing.
    const outdir = mkdtempSync(join(tmpdir(), "licence-desk-cfn-"));
    try {
      const app = new App({ outdir, context: { "aws:cdk:bundling-stacks": [] } });
      const stack = new LicenceDeskStack(app, "LicenceDesk");
      new CfnResource(stack, "Broken", {
        type: "AWS::SQS::Queue",
        properties: { MessageRetentionPeriod: "soon" },
      });
      // What it tells whoever runs the synth, kept off the test report.
      const told: string[] = [];
      const keep = (...args: unknown[]) => void told.push(format(...args));
      const spies = [
        vi.spyOn(console, "error").mockImplementation(keep),
        vi.spyOn(console, "warn").mockImplementation(keep),
      ];
      try {
        app.synth();
      } finally {
        for (const spy of spies) spy.mockRestore();
      }
      expect(told.join("\n")).toMatch(/MessageRetentionPeriod: 'soon' is not of type 'integer'/);
      const report = JSON.parse(readFileSync(join(outdir, "validation-report.json"), "utf8"));
      const found = report.pluginReports.flatMap((r: any) =>
        r.violations.map((v: any) => [v.ruleName, v.violatingConstructs.map((c: any) => c.constructPath)]),
      );
      expect(found).toEqual([["F3012", ["LicenceDesk/Broken"]]]);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it("acknowledges each finding with a specific reason", () => {
    const { stack } = synthDesk();
    const list = acknowledgements(stack);
    const reasons = new Map<string, string>();
    for (const { id, reason } of list) {
      expect(reason.length, id).toBeGreaterThan(120);
      const seen = reasons.get(id);
      if (seen !== undefined) expect(reason, `${id} gives one reason everywhere`).toBe(seen);
      reasons.set(id, reason);
    }
    // One reason per rule, and no two rules share a reason.
    expect(new Set(reasons.values()).size).toBe(reasons.size);
    expect([...reasons.keys()].sort()).toEqual([
      "AwsSolutions-APIG2",
      "AwsSolutions-APIG3",
      "AwsSolutions-APIG6",
      "AwsSolutions-COG4",
      "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<NightlyWatcherFunction\w+\.Arn>:\*\]$/),
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<UnknownsReconcilerFunction\w+\.Arn>:\*\]$/),
      "AwsSolutions-L1",
      "AwsSolutions-SQS3",
    ]);
  });
});

describe("least privilege stays true to the code", () => {
  /** `new XCommand(` of the DynamoDB document client and the low-level client, with the action each needs. */
  const ACTION_OF: Record<string, string> = {
    Get: "GetItem",
    GetItem: "GetItem",
    Put: "PutItem",
    PutItem: "PutItem",
    Update: "UpdateItem",
    UpdateItem: "UpdateItem",
    Delete: "DeleteItem",
    DeleteItem: "DeleteItem",
    Query: "Query",
    Scan: "Scan",
    BatchGet: "BatchGetItem",
    BatchGetItem: "BatchGetItem",
    BatchWrite: "BatchWriteItem",
    BatchWriteItem: "BatchWriteItem",
    TransactGet: "TransactGetItems",
    TransactGetItems: "TransactGetItems",
    TransactWrite: "TransactWriteItems",
    TransactWriteItems: "TransactWriteItems",
    ExecuteStatement: "PartiQLSelect",
  };

  const sources = (dir: string): string[] =>
    readdirSync(join(PROJECT_ROOT, dir), { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
      .map((entry) => join(entry.parentPath, entry.name));

  it("grants every DynamoDB data call the functions' code makes", () => {
    const used = new Set<string>();
    for (const file of [...sources("functions"), ...sources("shared")]) {
      // table.ts creates the table for local runs and tests only (ensureTable); no function imports it.
      if (file.endsWith(join("dynamodb", "table.ts"))) continue;
      const text = readFileSync(file, "utf8");
      if (!/@aws-sdk\/(lib|client)-dynamodb/.test(text)) continue;
      for (const [, name] of text.matchAll(/new (\w+?)Command\(/g)) {
        const action = ACTION_OF[name as string];
        expect(action, `${file}: new ${name}Command has no known data action`).toBeDefined();
        used.add(`dynamodb:${action}`);
      }
    }
    expect(used.size).toBeGreaterThan(0);
    expect([...used].filter((action) => !TABLE_ACTIONS.ledger.includes(action))).toEqual([]);
  });
});

describe("the watcher's settings", () => {
  it("are all passed from context, and the context's defaults are the code's own", () => {
    const { stack, json } = synthDesk();
    const resource =
      json.Resources[stack.getLogicalId(stack.watcher.function.function.node.defaultChild as never)];
    const env = resource?.Properties?.Environment.Variables as Record<string, unknown>;
    const codeDefaults = readWatcherConfig({});
    const strings = Object.fromEntries(
      Object.entries(env).filter(([, v]) => typeof v === "string"),
    ) as Record<string, string>;
    for (const name of Object.keys(codeDefaults).filter((n) => n !== "ALERT_TOPIC_ARN"))
      expect(env, `the watcher gets ${name}`).toHaveProperty(name);
    const { ALERT_TOPIC_ARN: _, ...deployed } = readWatcherConfig({ ...strings, ALERT_TOPIC_ARN: undefined });
    expect(deployed).toEqual(codeDefaults);
  });
});

describe("cdk.json", () => {
  it("runs the app with tsx and repeats every default of infra/settings.ts", () => {
    const cdk = JSON.parse(readFileSync(join(PROJECT_ROOT, "cdk.json"), "utf8"));
    expect(cdk.app).toBe("npx tsx infra/app.ts");
    const { stackName, ...context } = cdk.context;
    expect(stackName).toBe("LicenceDesk");
    expect(context).toEqual(DEFAULTS);
  });
});
