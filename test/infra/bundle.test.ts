import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { afterAll, describe, expect, it } from "vitest";
import { LicenceDeskStack } from "../../infra/stack.ts";
import { routes } from "../../shared/api/routes.ts";
import type { CfnTemplate } from "./support.ts";

const run = promisify(execFile);

/** What a function's module reads at import; nothing is contacted while importing. */
const LAMBDA_ENV = {
  PATH: process.env.PATH ?? "",
  AWS_REGION: "eu-central-1",
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
  AWS_LAMBDA_FUNCTION_NAME: "bundle-test",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  TABLE_NAME: "licence-desk",
  BILLMGR_URL: "https://billing.example.invalid/billmgr",
  BILLMGR_CREDENTIALS_PARAM: "/licence-desk/billmgr-credentials",
  API_TOKENS_PARAM: "/licence-desk/api-tokens",
  ALERT_TOPIC_ARN: "arn:aws:sns:eu-central-1:123456789012:alerts",
};

/** Imports the bundle in a fresh Node process, as Lambda's runtime would, and reports whether it exported `handler`. */
const LOADER = `const m = await import(process.argv[1]); process.stdout.write(typeof m.handler);`;

describe("a synth that really bundles", () => {
  const outdir = mkdtempSync(join(tmpdir(), "licence-desk-cdk-"));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it("bundles every function with local esbuild into an index.mjs that loads, and passes cdk-nag as a plugin", async () => {
    const constructing = performance.now();
    const app = new App({ outdir });
    const stack = new LicenceDeskStack(app, "LicenceDesk");
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // NodejsFunction bundles while the stack is built (esbuild through `npx --no-install`, one per function).
    const bundleSeconds = (performance.now() - constructing) / 1000;
    const started = performance.now();
    const assembly = app.synth(); // throws if the nag plugin reports a violation
    const seconds = (performance.now() - started) / 1000;

    // CDK's built-in CloudFormation validation (the other synths of the suite skip it) finds nothing.
    const report = JSON.parse(readFileSync(join(assembly.directory, "validation-report.json"), "utf8"));
    expect(report.pluginReports.flatMap((r: { violations: unknown[] }) => r.violations)).toEqual([]);

    const template = JSON.parse(
      readFileSync(join(assembly.directory, stack.templateFile), "utf8"),
    ) as CfnTemplate;
    const functions = Object.entries(template.Resources).filter(
      ([, r]) => r.Type === "AWS::Lambda::Function",
    );
    expect(functions).toHaveLength(routes.length + 3);

    const assets = new Map<string, string>();
    for (const [id, resource] of functions) {
      const key = resource.Properties?.Code?.S3Key as string;
      expect(key, id).toMatch(/^[0-9a-f]{64}\.zip$/);
      const dir = join(assembly.directory, `asset.${key.replace(/\.zip$/, "")}`);
      const bundle = join(dir, "index.mjs");
      expect(existsSync(bundle), `${id}: ${bundle}`).toBe(true);
      expect(statSync(bundle).size, id).toBeGreaterThan(10_000);
      expect(existsSync(join(dir, "index.mjs.map")), `${id}: source map`).toBe(true);
      assets.set(id, bundle);
    }

    const loading = performance.now();
    for (const [id, bundle] of assets) {
      const { stdout } = await run(process.execPath, ["--input-type=module", "-e", LOADER, bundle], {
        env: LAMBDA_ENV,
      });
      expect(stdout, `${id} exports handler`).toBe("function");
    }
    const loadSeconds = (performance.now() - loading) / 1000;
    console.log(
      `${functions.length} functions bundled in ${bundleSeconds.toFixed(1)} s, synth with cdk-nag ` +
        `${seconds.toFixed(1)} s, ` +
        `importing every bundle: ${loadSeconds.toFixed(1)} s`,
    );
  }, 180_000);
});
