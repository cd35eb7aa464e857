import { MetricUnit, Metrics as Powertools } from "@aws-lambda-powertools/metrics";
import { bindMetrics, type Dimensions, METRICS_NAMESPACE, type Metrics } from "../../shared/metrics.ts";

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/**
 * Powertools Metrics behind the domain's `Metrics`. Its lines on stdout (CloudWatch's embedded metric
 * format) become metrics in the function's log group: no API call on the request path. One Powertools
 * buffer per set of dimension values, because an EMF line gives each dimension one value.
 */
function powertoolsMetrics(): Metrics & { publish(): void } {
  const buffers = new Map<string, Powertools>();
  const add = (name: string, dimensions: Dimensions, unit: Unit, value: number) => {
    const key = JSON.stringify(dimensions);
    let buffer = buffers.get(key);
    if (!buffer) {
      buffer = new Powertools({ namespace: METRICS_NAMESPACE, defaultDimensions: { ...dimensions } });
      buffers.set(key, buffer);
    }
    buffer.addMetric(name, unit, value);
  };
  return {
    count: (name, dimensions, value = 1) => add(name, dimensions, MetricUnit.Count, value),
    timing: (name, dimensions, ms) => add(name, dimensions, MetricUnit.Milliseconds, ms),
    level: (name, dimensions, value) => add(name, dimensions, MetricUnit.NoUnit, value),
    publish() {
      for (const buffer of buffers.values()) if (buffer.hasStoredMetrics()) buffer.publishStoredMetrics();
    },
  };
}

/**
 * In Lambda the lines are the metrics; anywhere else (npm start, the tests) they would only crowd the
 * console, so there they are written only when POWERTOOLS_METRICS_DISABLED is set (to "false").
 */
const wanted =
  process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined || process.env.POWERTOOLS_METRICS_DISABLED !== undefined;
const sink = wanted ? powertoolsMetrics() : undefined;
if (sink) bindMetrics(sink);

/** Writes what this invocation recorded. Call once at its end: every buffer is one line. */
export function publishMetrics(): void {
  sink?.publish();
}

/** `handler`, publishing the figures when it ends, however it ends. */
export function publishing<A extends unknown[], R>(handler: (...args: A) => Promise<R>) {
  return async (...args: A): Promise<R> => {
    try {
      return await handler(...args);
    } finally {
      publishMetrics();
    }
  };
}

/**
 * `desk` with every use case publishing when it ends. An API request runs exactly one use case, so this
 * is once per invocation, without the route handlers knowing of metrics.
 */
export function publishingEach<T extends object>(desk: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(desk))
    wrapped[name] =
      typeof value === "function" ? publishing((...args: unknown[]) => value.apply(desk, args)) : value;
  return wrapped as T;
}
