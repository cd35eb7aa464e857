import { format } from "node:util";
import { afterAll, expect } from "vitest";
import { findSecret } from "../support/secrets.ts";

/**
 * Captures everything a test file prints (console and raw stdout/stderr) and fails the file
 * if the vendor password appears in it in any encoding.
 */
const captured: string[] = [];

for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    captured.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
    return write(chunk, ...rest);
  }) as typeof stream.write;
}

for (const method of ["log", "info", "warn", "error", "debug", "trace"] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    captured.push(format(...args));
    original(...args);
  };
}

export function capturedOutput(): string {
  return captured.join("");
}

afterAll(() => {
  expect(findSecret(capturedOutput()), "vendor password printed by this test file").toEqual([]);
});
