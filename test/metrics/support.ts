import { expect } from "vitest";
import { expectNoSecret } from "../support/secrets.ts";

/** One metric of one EMF line: its unit and every value the line carries for it. */
export interface EmfFigure {
  unit: string;
  values: number[];
}

/** One line of CloudWatch's embedded metric format, as CloudWatch reads it. */
export interface EmfLine {
  namespace: string;
  /** The dimension values the line's metrics are published under. */
  dimensions: Record<string, string>;
  metrics: Record<string, EmfFigure>;
}

/**
 * The EMF lines written to stdout while `run` runs, checked the way CloudWatch would take them: a
 * `_aws` block naming each metric, one dimension set whose every key has a string value at the top level,
 * and a number or an array of numbers per metric. Kept off the terminal (they would bury the test
 * report), so the password check that the setup makes of all output is made here.
 */
export async function emfDuring(run: () => Promise<unknown>): Promise<EmfLine[]> {
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: unknown) => {
    chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
    return true;
  }) as typeof process.stdout.write;
  try {
    await run();
  } finally {
    process.stdout.write = write;
  }
  const text = chunks.join("");
  expectNoSecret(text);
  return text
    .split("\n")
    .filter((line) => line.startsWith("{") && line.includes('"_aws"'))
    .map((line) => parseEmf(JSON.parse(line)));
}

function parseEmf(doc: Record<string, any>): EmfLine {
  const [directive, ...more] = doc._aws.CloudWatchMetrics as any[];
  expect(more, "one directive per line").toEqual([]);
  expect(typeof doc._aws.Timestamp).toBe("number");
  const [keys, ...otherSets] = directive.Dimensions as string[][];
  expect(otherSets, "one dimension set per line").toEqual([]);
  const dimensions: Record<string, string> = {};
  for (const key of keys ?? []) {
    expect(typeof doc[key], `dimension ${key} has a value`).toBe("string");
    dimensions[key] = doc[key];
  }
  const metrics: Record<string, EmfFigure> = {};
  for (const { Name, Unit } of directive.Metrics as Array<{ Name: string; Unit: string }>) {
    const value = doc[Name];
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) expect(typeof v, `${Name} is a number`).toBe("number");
    metrics[Name] = { unit: Unit, values };
  }
  return { namespace: directive.Namespace, dimensions, metrics };
}

/** The values of `name` over every line published under exactly these dimensions. */
export function valuesOf(lines: EmfLine[], name: string, dimensions: Record<string, string>): number[] {
  return lines
    .filter((line) => sameDimensions(line.dimensions, dimensions))
    .flatMap((line) => line.metrics[name]?.values ?? []);
}

/** Every (metric, dimensions) pair the lines carry, as `name{key=value,...}`, sorted: what a path emits. */
export function seriesOf(lines: EmfLine[]): string[] {
  const series = lines.flatMap((line) =>
    Object.keys(line.metrics).map(
      (name) =>
        `${name}{${Object.entries(line.dimensions)
          .filter(([key]) => key !== "service")
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([key, value]) => `${key}=${value}`)
          .join(",")}}`,
    ),
  );
  return [...new Set(series)].sort();
}

export const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

function sameDimensions(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
