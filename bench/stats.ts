/** Order statistics over latency samples (milliseconds). */
export function quantile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export const median = (samples: number[]) => quantile(samples, 0.5);
export const p99 = (samples: number[]) => quantile(samples, 0.99);

export const ms = (value: number) => `${value.toFixed(3)} ms`;

export function table(rows: Array<Record<string, string | number>>): void {
  console.table(rows);
}
