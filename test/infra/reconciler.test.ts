import { describe, expect, it } from "vitest";
import { functionOf, logicalId, shippedDesk } from "./support.ts";

/** The reconciler's schedule and function (infra/reconciler.ts). */
const { stack, template, json } = shippedDesk();

describe("the reconciler", () => {
  it("runs every 15 minutes, below API Gateway's limits, with no retries (the next pass is the retry)", () => {
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
});
