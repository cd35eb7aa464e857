import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import type { IConstruct } from "constructs";
import type { DeskFunction } from "../../infra/desk-function.ts";
import { LicenceDeskStack } from "../../infra/stack.ts";

/**
 * The stack with bundling skipped (about 0.3 s instead of seconds per synth), and without CDK's built-in
 * CloudFormation validation (its engine costs 3-5 s at a file's first synth; `validation.test.ts` runs it
 * on the stack once, and asserts what it finds). The template is read into memory, so the cloud assembly
 * folder goes at once: left to itself, every App makes a `cdk.out*` folder in the temporary directory
 * and never removes it.
 */
export function synthDesk(context: Record<string, unknown> = {}, stackName = "LicenceDesk") {
  const outdir = mkdtempSync(join(tmpdir(), "licence-desk-synth-"));
  try {
    const app = new App({
      outdir,
      context: { "aws:cdk:bundling-stacks": [], ...context },
      builtinCloudFormationValidation: false,
    });
    const stack = new LicenceDeskStack(app, stackName);
    const template = Template.fromStack(stack);
    return { app, stack, template, json: template.toJSON() as CfnTemplate };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

export type SynthesizedDesk = ReturnType<typeof synthDesk>;

let shipped: SynthesizedDesk | undefined;
/** The stack with the shipped context (cdk.json's defaults), synthesized once per test file. */
export function shippedDesk(): SynthesizedDesk {
  shipped ??= synthDesk();
  return shipped;
}

/** Every function of the stack: the authorizer, one per route, the watcher and the reconciler. */
export function deskFunctions(stack: LicenceDeskStack): DeskFunction[] {
  return [
    stack.authorizer,
    ...stack.routeFunctions.values(),
    stack.watcher.function,
    stack.reconciler.function,
  ];
}

/** The function of a route, by its handler's name. */
export function routeFunction(stack: LicenceDeskStack, handler: string): DeskFunction {
  const found = stack.routeFunctions.get(handler);
  if (!found) throw new Error(`no function for ${handler}`);
  return found;
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, any>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Description?: string }>;
}

export interface Statement {
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export function logicalId(stack: LicenceDeskStack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnFunction);
}

export const actionsOf = (statement: Statement): string[] =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

export function resourcesOfType(json: CfnTemplate, type: string): Array<[string, CfnResource]> {
  return Object.entries(json.Resources).filter(([, resource]) => resource.Type === type);
}

/** Every statement of every IAM policy attached to the function's role. */
export function statementsOf(stack: LicenceDeskStack, json: CfnTemplate, fn: DeskFunction): Statement[] {
  const roleId = stack.getLogicalId(fn.role.node.defaultChild as CfnFunction);
  return resourcesOfType(json, "AWS::IAM::Policy")
    .filter(([, policy]) =>
      ((policy.Properties?.Roles ?? []) as unknown[]).some(
        (r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId }),
      ),
    )
    .flatMap(([, policy]) => policy.Properties?.PolicyDocument.Statement as Statement[]);
}

/** The function's resource and its environment variables. */
export function functionOf(stack: LicenceDeskStack, json: CfnTemplate, fn: DeskFunction) {
  const resource = json.Resources[logicalId(stack, fn.function)];
  if (!resource) throw new Error(`no function ${fn.node.path}`);
  return { resource, env: (resource.Properties?.Environment?.Variables ?? {}) as Record<string, unknown> };
}

/**
 * The dashboard's body as CloudWatch reads it. CloudFormation joins it from strings and references; each
 * reference is written here as its JSON (`{"Ref":"..."}`, escaped), which keeps the body parseable.
 */
export function dashboardBody(json: CfnTemplate): Record<string, any> {
  const [, dashboard] = resourcesOfType(json, "AWS::CloudWatch::Dashboard")[0] ?? [];
  const body = dashboard?.Properties?.DashboardBody as string | { "Fn::Join": [string, unknown[]] };
  if (typeof body === "string") return JSON.parse(body);
  const text = body["Fn::Join"][1]
    .map((part) => (typeof part === "string" ? part : JSON.stringify(JSON.stringify(part)).slice(1, -1)))
    .join("");
  return JSON.parse(text);
}
