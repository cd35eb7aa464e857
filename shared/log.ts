import { redact } from "./redact.ts";

export type LogLevel = "INFO" | "WARN" | "ERROR";

/**
 * One JSON line: `{"level", "message", ...fields}`, every string in it (message, fields, nested ones)
 * passed through `redact` first, whoever built it. INFO to stdout, WARN and ERROR to stderr. The stack
 * sets Lambda's JSON log format, which adds the time and request id: Powertools Logger would add 20 KB
 * to every bundle for the same.
 */
export function log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, message, ...fields }, (_key, value: unknown) =>
    typeof value === "string" ? redact(value) : value,
  );
  if (level === "INFO") console.log(line);
  else console.error(line);
}

/** An error as a log line names it: `Name: message`. */
export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
