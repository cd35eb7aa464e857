import { describe, expect, it } from "vitest";
import { logicalId, resourcesOfType, shippedDesk, synthDesk } from "./support.ts";

/** The alarms (infra/alarms.ts). */
const { stack, json } = shippedDesk();
const topicId = logicalId(stack, stack.alerts.topic);
const watcherId = logicalId(stack, stack.watcher.function.function);
const authorizerFnId = logicalId(stack, stack.authorizer.function);

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

  it("fire when no watcher night finished in 26 hours (the heartbeat), missing data breaching", () => {
    const missed = alarm("missedHeartbeat");
    expect(missed).toMatchObject({
      EvaluationPeriods: 26,
      DatapointsToAlarm: 26,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
    });
    expect(missed.Metrics.find((m: any) => m.Expression).Expression).toBe("FILL(nights, 0)");
    expect(missed.Metrics.find((m: any) => m.MetricStat).MetricStat).toEqual({
      Metric: { Namespace: "LicenceDesk", MetricName: "NightsCompleted", Dimensions: desk() },
      Period: 3600,
      Stat: "Sum",
    });
  });
});
