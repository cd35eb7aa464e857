import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../infra/desk-function.ts";
import { routes } from "../../shared/api/routes.ts";
import {
  deskFunctions,
  functionOf,
  resourcesOfType,
  routeFunction,
  shippedDesk,
  synthDesk,
} from "./support.ts";

/** What the stack takes from context (infra/settings.ts), and what it refuses at synth. */
const { stack, json } = shippedDesk();

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
    const products = JSON.parse(
      readFileSync(join(PROJECT_ROOT, "shared/domain/catalogue/products.json"), "utf8"),
    );
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
    expect(functionOf(stack, json, routeFunction(stack, "order-licence")).env).not.toHaveProperty(
      "CATALOGUE_JSON",
    );
  });

  it("tell the operators' routes, and only them, which clients are operators; nobody by default", () => {
    const operatorRoutes = routes.filter((r) => r.operator).map((r) => r.handler);
    expect(operatorRoutes.sort()).toEqual(["list-outcomes", "settle-outcome"]);
    for (const desk of deskFunctions(stack))
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
