/**
 * Faults on demand, so every way the vendor or the network can fail is reproducible over real HTTP.
 *
 * Kinds that fail before the vendor acts (nothing charged, nothing created):
 * - `timeout`: never answer; the socket is held until the client gives up or the sandbox closes.
 * - `drop`: destroy the connection without an answer.
 * - `http500`: status 500 with a short HTML body.
 * - `html`: status 200 with an HTML error page instead of the vendor's document.
 * - `malformed`: status 200 with a document cut off mid-element.
 * - `throttle`: status 429 with `Retry-After` (seconds, `delayMs` rounded up) and a short HTML body.
 * - `throttle-503`: the same with status 503, as a load balancer sheds load.
 * - `slow`: wait `delayMs`, then act and answer normally (the vendor still acts if the client left).
 * - `hold`: wait until the test releases it (`release()`, `POST /sandbox/faults/release`), then act
 *   and answer normally: a test changes the book between two calls of one client operation (a licence
 *   purged between two pages of the list) at exactly that point, with no timing guess.
 * Kinds that fail after the vendor acted (the charge and the licence are real):
 * - `act-then-hang`: act, then never answer.
 * - `act-then-drop`: act, then destroy the connection without an answer.
 * - `act-late`: hold the call unanswered; act `delayMs` after the caller gave up (its connection
 *   closed), or after `delayMs` of holding if it never does; never answer. A queued request that a
 *   busy backend works off after the caller's timeout. Dropped, not applied, when the sandbox closes.
 * - `no-expiry`: act and answer `<ok/>`, but with every `newexpiredate` element left out.
 * - `trickle`: act, then send the normal answer `chunkBytes` at a time, `delayMs` apart, so a
 *   per-chunk timeout never fires while the whole answer takes seconds.
 */
export const FAULT_KINDS = [
  "timeout",
  "drop",
  "http500",
  "html",
  "malformed",
  "throttle",
  "throttle-503",
  "slow",
  "hold",
  "act-then-hang",
  "act-then-drop",
  "act-late",
  "no-expiry",
  "trickle",
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/** `func` is a vendor function name, or "*" for any call that has no queue of its own. */
export interface FaultSpec {
  func: string;
  kind: FaultKind;
  /** How many of the next calls get it; default 1. */
  count?: number | undefined;
  /** For `slow`, `act-late`, `throttle*` (Retry-After) and `trickle` (between chunks); default 1000, `trickle` 200. */
  delayMs?: number | undefined;
  /** For `trickle`: bytes per chunk; default 8. */
  chunkBytes?: number | undefined;
  /**
   * How many of the next calls of `func` pass this fault by (served as usual; a `*` fault still meets
   * them) before it applies: a fault aimed at the second page of a list; default 0.
   */
  skip?: number | undefined;
}

export interface Fault {
  readonly kind: FaultKind;
  readonly delayMs: number;
  /** Only on `trickle`. */
  readonly chunkBytes?: number;
}

export interface PendingFault {
  func: string;
  kind: FaultKind;
  remaining: number;
  delayMs: number;
  chunkBytes?: number;
  /** Calls still to pass it by; only while some are left. */
  skip?: number;
}

export const ANY_FUNC = "*";
export const DEFAULT_SLOW_MS = 1000;
export const DEFAULT_TRICKLE_MS = 200;
/** Small enough that a typical answer (150-400 bytes) takes several seconds at 200 ms a chunk. */
export const DEFAULT_CHUNK_BYTES = 8;

/** Whole seconds for `Retry-After`, rounded up so a client never comes back too early. */
export function retryAfterSeconds(delayMs: number): number {
  return Math.ceil(delayMs / 1000);
}

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

export const THROTTLE_BODIES = {
  429: "<html><head><title>429 Too Many Requests</title></head><body><h1>429 Too Many Requests</h1></body></html>\n",
  503: "<html><head><title>503 Service Temporarily Unavailable</title></head><body><h1>503 Service Temporarily Unavailable</h1></body></html>\n",
} as const;

export class FaultQueue {
  private readonly queues = new Map<string, PendingFault[]>();

  add(spec: FaultSpec): void {
    const count = spec.count ?? 1;
    const delayMs = spec.delayMs ?? (spec.kind === "trickle" ? DEFAULT_TRICKLE_MS : DEFAULT_SLOW_MS);
    const chunkBytes = spec.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (typeof spec.func !== "string" || spec.func === "")
      throw new RangeError("fault func must be a function name or *");
    if (!isFaultKind(spec.kind)) throw new RangeError(`fault kind must be one of ${FAULT_KINDS.join(", ")}`);
    if (!Number.isSafeInteger(count) || count < 1)
      throw new RangeError("fault count must be a positive integer");
    if (!Number.isSafeInteger(delayMs) || delayMs < 0)
      throw new RangeError("fault delayMs must be a non-negative integer");
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1)
      throw new RangeError("fault chunkBytes must be a positive integer");
    const skip = spec.skip ?? 0;
    if (!Number.isSafeInteger(skip) || skip < 0)
      throw new RangeError("fault skip must be a non-negative integer");
    const queue = this.queues.get(spec.func) ?? [];
    // chunkBytes only means something to `trickle`, skip only while calls are left to pass: a fault
    // without them keeps its old shape.
    const extra = { ...(spec.kind === "trickle" && { chunkBytes }), ...(skip > 0 && { skip }) };
    queue.push({ func: spec.func, kind: spec.kind, remaining: count, delayMs, ...extra });
    this.queues.set(spec.func, queue);
  }

  /** The fault for this call, if any; a function's own queue goes before the "*" queue. */
  take(func: string): Fault | undefined {
    for (const key of [func, ANY_FUNC]) {
      const queue = this.queues.get(key);
      const head = queue?.[0];
      if (!queue || !head) continue;
      if (head.skip !== undefined) {
        head.skip -= 1;
        if (head.skip <= 0) delete head.skip;
        continue;
      }
      head.remaining -= 1;
      if (head.remaining <= 0) queue.shift();
      if (queue.length === 0) this.queues.delete(key);
      const extra = head.chunkBytes === undefined ? {} : { chunkBytes: head.chunkBytes };
      return { kind: head.kind, delayMs: head.delayMs, ...extra };
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
