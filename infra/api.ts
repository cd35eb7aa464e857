import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import {
  AccessLogFormat,
  AuthorizationType,
  EndpointType,
  IdentitySource,
  LambdaIntegration,
  LogGroupLogDestination,
  RequestAuthorizer,
  type RequestValidator,
  ResponseType,
  RestApi,
} from "aws-cdk-lib/aws-apigateway";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import type { Route } from "../shared/api/routes.ts";

export interface DeskApiProps {
  routes: ReadonlyArray<{ route: Route; handler: IFunction }>;
  authorizer: IFunction;
  stageName: string;
  throttleRate: number;
  throttleBurst: number;
  authorizerCacheSeconds: number;
  logRetention: RetentionDays;
  /**
   * Set the region's API Gateway CloudWatch Logs role (AWS::ApiGateway::Account), without which a REST API
   * stage with an access log cannot be created. One setting per account and region, shared by every REST
   * API there; turn off where it is already managed elsewhere (a landing zone, another stack).
   */
  setAccountLogsRole: boolean;
}

/** The schema types that leave a field optional. */
const OPTIONAL_TYPES = new Set(["optional", "exact_optional", "nullish", "undefinedable"]);

/**
 * The request parameters API Gateway checks before the authorizer's answer is used and before any
 * function runs: path parameters, the query parameters the route's schema requires (from
 * `shared/api/requests.ts`; optional ones are declared but not required) and `Idempotency-Key` on money
 * routes. Values are still validated by the handler, which alone knows IPs, dates and products.
 */
export function requestParameters(route: Route): Record<string, boolean> {
  const parameters: Record<string, boolean> = {};
  for (const [, name] of route.path.matchAll(/\{(\w+)\}/g)) parameters[`method.request.path.${name}`] = true;
  const entries = (route.query as { entries?: Record<string, { type: string }> } | undefined)?.entries ?? {};
  for (const [name, schema] of Object.entries(entries))
    parameters[`method.request.querystring.${name}`] = !OPTIONAL_TYPES.has(schema.type);
  if (route.idempotencyKey) parameters["method.request.header.Idempotency-Key"] = true;
  return parameters;
}

/**
 * Answers API Gateway gives by itself, in the API's own error envelope (`{"error": {"code", "message",
 * "details"}}`), so clients parse one shape whoever answered.
 */
const GATEWAY_RESPONSES: ReadonlyArray<{ type: ResponseType; status: string; code: string; extra?: string }> =
  [
    { type: ResponseType.UNAUTHORIZED, status: "401", code: "unauthorized" },
    { type: ResponseType.ACCESS_DENIED, status: "403", code: "forbidden" },
    { type: ResponseType.BAD_REQUEST_PARAMETERS, status: "400", code: "invalid_request" },
    { type: ResponseType.BAD_REQUEST_BODY, status: "400", code: "invalid_request" },
    // An unknown path or method: API Gateway's own 403 "Missing Authentication Token", here a plain 404.
    { type: ResponseType.MISSING_AUTHENTICATION_TOKEN, status: "404", code: "not_found" },
    { type: ResponseType.REQUEST_TOO_LARGE, status: "413", code: "payload_too_large" },
    { type: ResponseType.THROTTLED, status: "429", code: "throttled" },
    // The function did not answer within 29 s: an order or renewal may have been sent. The client retries
    // with the same Idempotency-Key, which reconciles instead of sending again.
    {
      type: ResponseType.INTEGRATION_TIMEOUT,
      status: "504",
      code: "gateway_timeout",
      extra: ',"outcome":"unknown"',
    },
    { type: ResponseType.DEFAULT_4XX, status: "", code: "invalid_request" },
    { type: ResponseType.DEFAULT_5XX, status: "", code: "internal_error" },
  ];

/** One JSON line per request in the access log: who, what, how it ended, how long it took. */
const ACCESS_LOG_FIELDS = {
  requestId: "$context.requestId",
  time: "$context.requestTime",
  ip: "$context.identity.sourceIp",
  userAgent: "$context.identity.userAgent",
  client: "$context.authorizer.client",
  method: "$context.httpMethod",
  route: "$context.resourcePath",
  path: "$context.path",
  status: "$context.status",
  responseLength: "$context.responseLength",
  latencyMs: "$context.responseLatency",
  integrationLatencyMs: "$context.integrationLatency",
  integrationStatus: "$context.integration.status",
  error: "$context.error.message",
  authorizerError: "$context.authorizer.error",
  integrationError: "$context.integrationErrorMessage",
};

/**
 * The REST API: one method per entry of the route table, each on its own function, behind one REQUEST
 * authorizer (the `Authorization` header; answers cached per token), stage throttling, a JSON access log
 * and a validator for request parameters.
 *
 * Bodies are not validated by API Gateway models: the valibot schemas check what JSON Schema draft-04
 * cannot say (IPv4/IPv6 through `node:net`, calendar dates, trimming before lengths, a product's own
 * periods and nodes), so a model would be a weaker second copy that can drift; and a model's refusal
 * would come without the `details.fields` the handlers give. The handlers validate every body before
 * anything reaches the vendor.
 */
export class DeskApi extends Construct {
  readonly api: RestApi;
  readonly accessLogs: LogGroup;
  readonly validator: RequestValidator;
  readonly authorizer: RequestAuthorizer;

  constructor(scope: Construct, id: string, props: DeskApiProps) {
    super(scope, id);
    this.accessLogs = new LogGroup(this, "AccessLogs", {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api = new RestApi(this, "Api", {
      restApiName: Stack.of(this).stackName,
      description: "ISPmanager licence desk",
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      cloudWatchRole: props.setAccountLogsRole,
      // Other APIs of the region log through the same setting: it stays when this stack goes.
      ...(props.setAccountLogsRole ? { cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN } : {}),
      deployOptions: {
        stageName: props.stageName,
        throttlingRateLimit: props.throttleRate,
        throttlingBurstLimit: props.throttleBurst,
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        accessLogFormat: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    this.authorizer = new RequestAuthorizer(this, "TokenAuthorizer", {
      handler: props.authorizer,
      identitySources: [IdentitySource.header("Authorization")],
      resultsCacheTtl: Duration.seconds(props.authorizerCacheSeconds),
    });
    this.validator = this.api.addRequestValidator("Parameters", {
      requestValidatorName: "parameters",
      validateRequestParameters: true,
      validateRequestBody: false,
    });
    for (const { route, handler } of props.routes) {
      this.api.root
        .resourceForPath(route.path)
        .addMethod(route.method, new LambdaIntegration(handler, { allowTestInvoke: false }), {
          authorizer: this.authorizer,
          authorizationType: AuthorizationType.CUSTOM,
          requestValidator: this.validator,
          requestParameters: requestParameters(route),
        });
    }
    for (const response of GATEWAY_RESPONSES) {
      this.api.addGatewayResponse(response.type.responseType, {
        type: response.type,
        ...(response.status ? { statusCode: response.status } : {}),
        // Like every answer of the functions: an error about a licence is never cached on the way.
        responseHeaders: { "Cache-Control": "'no-store'" },
        templates: {
          "application/json": `{"error":{"code":"${response.code}","message":$context.error.messageString,"details":{}}${response.extra ?? ""}}`,
        },
      });
    }
  }
}
