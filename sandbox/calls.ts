import { SECRET_PARAMS } from "./auth.ts";
import type { FaultKind } from "./faults.ts";

/** One vendor call as the sandbox received it; credentials are left out before anything is kept. */
export interface RecordedCall {
  func: string;
  method: string;
  params: Record<string, string>;
  /** Sandbox-clock time of arrival, ISO 8601. */
  at: string;
  fault?: FaultKind;
}

export function withoutSecrets(params: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).filter(([name]) => !SECRET_PARAMS.has(name)));
}
