import { describe, expect, it } from "vitest";
import { routes } from "../../shared/api/routes.ts";
import { dashboardBody, logicalId, shippedDesk, synthDesk } from "./support.ts";

/** The dashboard (infra/dashboard.ts). */
const { stack, template, json } = shippedDesk();

describe("the dashboard", () => {
  const body = dashboardBody(json);
  const widgets = body.widgets as Array<{ type: string; properties: Record<string, any> }>;
  /** Every metric a widget draws, as `Namespace/Name{dimension=value,...}@stat`. */
  const drawn = widgets.flatMap((w) =>
    ((w.properties.metrics ?? []) as unknown[][]).flatMap((row) => {
      const last = row.at(-1) as Record<string, unknown>;
      if ("expression" in last) return [`expression:${last.expression}`];
      const [namespace, name, ...pairs] = row.slice(0, -1) as string[];
      const dims = [];
      for (let i = 0; i < pairs.length; i += 2) dims.push(`${pairs[i]}=${pairs[i + 1]}`);
      return [`${namespace}/${name}{${dims.join(",")}}@${last.stat}`];
    }),
  );

  it("is one dashboard, its name an output", () => {
    template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
    expect(json.Outputs?.DashboardName?.Value).toEqual({ Ref: logicalId(stack, stack.dashboard.dashboard) });
  });

  it("shows vendor attempts by result, latency by function (a search), and the failure rate's alarm", () => {
    for (const result of ["ok", "vendor_error", "unavailable", "timeout", "throttled"])
      expect(drawn).toContain(`LicenceDesk/VendorCall{result=${result},service=LicenceDesk}@SampleCount`);
    expect(drawn).toContain(
      `expression:SEARCH('{LicenceDesk,func,result,service} MetricName="VendorCall" service="LicenceDesk"', 'p90', 300)`,
    );
  });

  it("shows every money outcome of orders and renewals", () => {
    for (const operation of ["order", "renew"])
      for (const outcome of [
        "applied",
        "refused",
        "unknown",
        "pending",
        "settled_applied",
        "settled_not_applied",
      ])
        expect(drawn).toContain(
          `LicenceDesk/MoneyOutcome{operation=${operation},outcome=${outcome},service=LicenceDesk}@Sum`,
        );
  });

  it("shows each night's renewals, alerts sent and undelivered, summaries, and licences expiring", () => {
    for (const figure of [
      "NightRenewed{service=LicenceDesk}@Sum",
      "NightFailed{service=LicenceDesk}@Sum",
      "AlertsSent{service=LicenceDesk}@Sum",
      "AlertsUndelivered{service=LicenceDesk}@Sum",
      "SummariesSent{service=LicenceDesk}@Sum",
      "ExpiringWithin7Days{service=LicenceDesk}@Maximum",
      "ExpiringWithin30Days{service=LicenceDesk}@Maximum",
    ])
      expect(drawn).toContain(`LicenceDesk/${figure}`);
  });

  it("shows every alarm's state, the new alarms' graphs, and the vendor routes' throttles", () => {
    const status = widgets.find((w) => w.type === "alarm");
    expect(status?.properties.alarms).toHaveLength(stack.alarms.all().length);
    const graphed = widgets.flatMap((w) => w.properties.annotations?.alarms ?? []);
    expect(graphed).toHaveLength(4);
    const throttles = drawn.filter((d) => d.startsWith("AWS/Lambda/Throttles"));
    expect(throttles).toHaveLength(routes.filter((r) => r.vendor).length);
  });

  it("reads the stack's own series: the functions that report name it as Powertools' service", () => {
    const other = dashboardBody(synthDesk({}, "OtherDesk").json);
    expect(JSON.stringify(other)).toContain('"service","OtherDesk"');
    expect(JSON.stringify(other)).not.toContain('"service","LicenceDesk"');
  });
});
