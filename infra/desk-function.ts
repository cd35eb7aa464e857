import { fileURLToPath } from "node:url";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, LoggingFormat, Runtime } from "aws-cdk-lib/aws-lambda";
import { type BundlingOptions, LogLevel, NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { registerTable } from "../shared/adapters/dynamodb/table.ts";
import { lambdaBundling } from "./bundling.ts";
import type { SecureParameter } from "./secure-parameter.ts";

/** The repository's root: entries are `functions/<name>.ts`, the lock file is `package-lock.json`. */
export const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * `infra/bundling.ts` (what `npm run bench` measures) as NodejsFunction options: one minified ES module,
 * the AWS SDK inside (`externalModules: []`, so the bundle carries the SDK version we tested rather than
 * the runtime's), and local esbuild only (no Docker). The source map ships beside the bundle without the
 * sources' text (1.1 MB instead of 3.4 MB for a vendor route; the repository has the sources); Node uses
 * it only with `enableSourceMaps` (see DeskFunctionProps).
 */
export const nodejsBundling: BundlingOptions = {
  format: lambdaBundling.format === "esm" ? OutputFormat.ESM : OutputFormat.CJS,
  minify: lambdaBundling.minify,
  target: lambdaBundling.target,
  mainFields: [...lambdaBundling.mainFields],
  banner: lambdaBundling.banner,
  sourceMap: true,
  sourcesContent: false,
  externalModules: [],
  logLevel: LogLevel.WARNING,
  forceDockerBundling: false,
};

/**
 * `read`: the register-only routes; `readWrite`: vendor routes; `ledger`: what records alerts (the watcher,
 * the reconciler, and the routes that settle money calls or leave them to staff).
 */
export type TableAccess = "read" | "readWrite" | "ledger";

/**
 * What the register's code sends (shared/adapters/dynamodb/*.ts: Get, BatchGet, Query; Put, Update, Delete,
 * BatchWrite), and nothing else: no Scan, no transactions, no table management. `test/infra` checks
 * this list against the commands the code uses, so a new kind of call cannot ship without its permission.
 */
const READ_ACTIONS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"];
const WRITE_ACTIONS = [...READ_ACTIONS, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"];
export const TABLE_ACTIONS: Record<TableAccess, readonly string[]> = {
  read: READ_ACTIONS,
  readWrite: WRITE_ACTIONS,
  // The alert ledger drops sent alerts from its pending partition 25 at a time; only its users batch.
  ledger: [...WRITE_ACTIONS, "dynamodb:BatchWriteItem"],
};

export interface DeskFunctionProps {
  /** The handler module: `functions/<entry>.ts`, exporting `handler`. */
  entry: string;
  description: string;
  logRetention: RetentionDays;
  memorySize: number;
  timeout: Duration;
  environment?: Record<string, string>;
  /** The register and what this function may do with it; sets `TABLE_NAME`. */
  table?: { table: ITable; access: TableAccess };
  /** SecureStrings this function reads, keyed by the variable that carries the parameter's name. */
  parameters?: Record<string, SecureParameter>;
  reservedConcurrentExecutions?: number;
  /**
   * `NODE_OPTIONS=--enable-source-maps`: stack traces in the logs point into the TypeScript sources, at the
   * price of reading the map at every cold start (measured here: about 20 ms more init for a vendor route,
   * whose init is 80-100 ms). Off by default; context `enableSourceMaps` turns it on.
   */
  sourceMapStackTraces?: boolean;
}

/**
 * One Lambda function of the desk with the defaults they all share: Node.js 22 on arm64, bundled as
 * `infra/bundling.ts` says, Lambda's JSON log format into the function's own log group (with a retention),
 * and a role of its own that may write to that log group and do nothing else until granted, so no
 * AWS managed policy is needed. Table and parameter access come with the props, each in one line.
 */
export class DeskFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: DeskFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, "Logs", {
      retention: props.logRetention,
      // The register (DynamoDB, retained) is the record of what happened; logs go with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new Role(this, "Role", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: `${props.entry}: its log group${props.table ? `, the register (${props.table.access})` : ""}`,
    });
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    const environment: Record<string, string> = {
      ...(props.sourceMapStackTraces ? { NODE_OPTIONS: "--enable-source-maps" } : {}),
      ...props.environment,
    };
    if (props.table) {
      environment.TABLE_NAME = props.table.table.tableName;
      grantTable(this.role, props.table.table, props.table.access);
    }
    for (const [variable, parameter] of Object.entries(props.parameters ?? {})) {
      environment[variable] = parameter.name;
      parameter.grantRead(this.role);
    }

    this.function = new NodejsFunction(this, "Function", {
      entry: `${PROJECT_ROOT}functions/${props.entry}.ts`,
      handler: "handler",
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      description: props.description,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      environment,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      bundling: nodejsBundling,
    });
  }
}

/**
 * The table with exactly the actions the register sends, and `dynamodb:Query` on its two indexes,
 * each by name (no `index/*`).
 */
function grantTable(role: Role, table: ITable, access: TableAccess): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({ actions: [...TABLE_ACTIONS[access]], resources: [table.tableArn] }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ["dynamodb:Query"],
      resources: registerTable.indexes.map((index) => `${table.tableArn}/index/${index.name}`),
    }),
  );
}

/**
 * Default sizes. The API functions stop at 25 s, below API Gateway's 29 s integration limit, so their
 * own answer (an unknown outcome recorded and said) always arrives before the gateway gives up; the
 * handler keeps 3 s of that for recording (`RECORDING_MARGIN_MS`).
 */
export const API_FUNCTION_DEFAULTS = { memorySize: 512, timeout: Duration.seconds(25) } as const;
