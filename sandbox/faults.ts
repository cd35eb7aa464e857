/**
 * Faults on demand, so every way the vendor or the network can fail is reproducible over real HTTP.
 *
 * Kinds that fail before the vendor acts (nothing charged, nothing created):
 * - `timeout`: never answer; the socket is held until the client gives up or the sandbox closes.
 * - `drop`: destroy the connection without an answer.
 * - `http500`: status 500 with a short HTML body.
 * - `html`: status 200 with an HTML error page instead of the vendor's document.
 * - `malformed`: status 200 with a document cut off mid-element.
 * - `slow`: wait `delayMs`, then act and answer normally (the vendor still acts if the client left).
 * Kinds that fail after the vendor acted (the charge and the licence are real):
 * - `act-then-hang`: act, then never answer.
 * - `act-then-drop`: act, then destroy the connection without an answer.
 */
export const FAULT_KINDS = [
  "timeout",
  "drop",
  "http500",
  "html",
  "malformed",
  "slow",
  "act-then-hang",
  "act-then-drop",
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/** `func` is a vendor function name, or "*" for any call that has no queue of its own. */
export interface FaultSpec {
  func: string;
  kind: FaultKind;
  /** How many of the next calls get it; default 1. */
  count?: number | undefined;
  /** For `slow`; default 1000. */
  delayMs?: number | undefined;
}

export interface Fault {
  readonly kind: FaultKind;
  readonly delayMs: number;
}

export interface PendingFault {
  func: string;
  kind: FaultKind;
  remaining: number;
  delayMs: number;
}

export const ANY_FUNC = "*";
export const DEFAULT_SLOW_MS = 1000;

export function isFaultKind(value: unknown): value is FaultKind {
  return typeof value === "string" && (FAULT_KINDS as readonly string[]).includes(value);
}

export const HTTP500_BODY =
  "<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>\n";

/** What a proxy in front of the vendor serves when it is down (fixtures/billmgr/gateway-error.html). */
export const GATEWAY_ERROR_PAGE = `<html>
<head><title>502 Bad Gateway</title></head>
<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body>
</html>
`;

export class FaultQueue {
  private readonly queues = new Map<string, PendingFault[]>();

  add(spec: FaultSpec): void {
    const count = spec.count ?? 1;
    const delayMs = spec.delayMs ?? DEFAULT_SLOW_MS;
    if (typeof spec.func !== "string" || spec.func === "")
      throw new RangeError("fault func must be a function name or *");
    if (!isFaultKind(spec.kind)) throw new RangeError(`fault kind must be one of ${FAULT_KINDS.join(", ")}`);
    if (!Number.isSafeInteger(count) || count < 1)
      throw new RangeError("fault count must be a positive integer");
    if (!Number.isSafeInteger(delayMs) || delayMs < 0)
      throw new RangeError("fault delayMs must be a non-negative integer");
    const queue = this.queues.get(spec.func) ?? [];
    queue.push({ func: spec.func, kind: spec.kind, remaining: count, delayMs });
    this.queues.set(spec.func, queue);
  }

  /** The fault for this call, if any; a function's own queue goes before the "*" queue. */
  take(func: string): Fault | undefined {
    for (const key of [func, ANY_FUNC]) {
      const queue = this.queues.get(key);
      const head = queue?.[0];
      if (!queue || !head) continue;
      head.remaining -= 1;
      if (head.remaining <= 0) queue.shift();
      if (queue.length === 0) this.queues.delete(key);
      return { kind: head.kind, delayMs: head.delayMs };
    }
    return undefined;
  }

  pending(): PendingFault[] {
    return [...this.queues.values()].flat().map((fault) => ({ ...fault }));
  }

  clear(): void {
    this.queues.clear();
  }
}
