import { describe, expect, it } from "vitest";
import { routes } from "../../shared/api/routes.ts";
import { logicalId, resourcesOfType, routeFunction, shippedDesk, synthDesk } from "./support.ts";

/** The REST API in front of the functions (infra/api.ts). */
const { stack, template, json } = shippedDesk();
const authorizerFnId = logicalId(stack, stack.authorizer.function);

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
        logicalId(stack, routeFunction(stack, route.handler).function),
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
