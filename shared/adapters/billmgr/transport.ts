import { setTimeout as sleep } from "node:timers/promises";
import type { CallOptions } from "../../domain/ports/billing.ts";
import {
  BillmgrCredentialsError,
  BillmgrError,
  BillmgrThrottledError,
  BillmgrTimeoutError,
  BillmgrUnavailableError,
  BillmgrVendorError,
  type Outcome,
} from "../../domain/ports/billing-errors.ts";
import type { CredentialsProvider } from "../../domain/ports/credentials.ts";
import { type Format, parseAnswer, type VendorElement } from "./document.ts";
import { Agent, type Dispatcher, ExchangeFailed, formTarget, postForm } from "./undici.ts";
/**
 * How a call may be repeated. `read` changes nothing and is retried on transient faults;
 * `write` changes a licence and `money` charges the balance: both are sent once.
 */
export type CallKind = "read" | "write" | "money";
export interface CallEvent {
  func: string;
  attempt: number;
  durationMs: number;
  result: "ok" | "vendor_error" | "unavailable" | "timeout" | "throttled";
}
export interface TransportOptions {
  url: string;
  credentials: CredentialsProvider;
  /** Bounds each whole attempt: credentials, connect, send and the full answer body, not each gap in it. */
  timeoutMs: number;
  /** Extra attempts for read-only calls. */
  retries: number;
  /** Base of the full-jitter backoff between read retries. */
  retryBaseMs: number;
  /** Longest `Retry-After` a read waits for before trying again; a longer one ends the call. Default 5 s. */
  maxRetryAfterMs?: number;
  format: Format;
  dispatcher?: Dispatcher;
  /** Sees every attempt (for logs, metrics and audit); never sees parameters or credentials. */
  onCall?: (event: CallEvent) => void;
}
export type Params = Record<string, string | number | undefined>;
export interface Transport {
  call(func: string, params: Params, kind: CallKind, options?: CallOptions): Promise<VendorElement>;
}
/** Less time than this left and an attempt could not finish: it is not started. */
export const MIN_ATTEMPT_MS = 50;
const DEFAULT_MAX_RETRY_AFTER_MS = 5_000;
let sharedAgent: Agent | undefined;
/** One keep-alive connection pool per process, reused by every client and every invocation. */
function processAgent(connectTimeoutMs: number): Agent {
  sharedAgent ??= new Agent({
    keepAliveTimeout: 30_000,
    connections: 32,
    connect: { timeout: connectTimeoutMs },
  });
  return sharedAgent;
}
/** Errors that prove the request never left this process. */
const NOT_SENT = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);
const TIMEOUTS = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);
/** `work`, or a rejection with `expired` once `limitMs` have passed, whichever comes first. */
function within<T>(work: Promise<T>, limitMs: number, expired: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(expired()), limitMs);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
/** Longest wait a `Retry-After` can announce that we keep; beyond a day the number is noise. */
const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;
/**
 * `Retry-After` as milliseconds from `now`: delay-seconds or an HTTP date (RFC 9110 10.2.3), clamped to
 * 0 ms..24 h. Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    // Only a real date: Date.parse also reads bare numbers such as "2021" or "1.5" as dates.
    if (Number.isNaN(at) || !/[a-z]/i.test(text)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}
export function createTransport(options: TransportOptions): Transport {
  const dispatcher = options.dispatcher ?? processAgent(options.timeoutMs);
  const target = formTarget(options.url);
  const maxRetryAfterMs = options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;

  /** One attempt, over within `limitMs` from its start whatever the vendor does. */
  async function attempt(func: string, params: Params, limitMs: number): Promise<VendorElement> {
    const started = performance.now();
    // Nothing was sent before this: a failing secret store is told as such, with nothing sent (a money
    // call it stops is refused, never unknown).
    const credentials = await within(
      options.credentials.get(),
      limitMs,
      () =>
        new BillmgrTimeoutError(func, limitMs, "not_applied", {
          detail: `no credentials within ${limitMs} ms`,
        }),
    ).catch((error: unknown) => {
      throw error instanceof BillmgrError ? error : new BillmgrCredentialsError(func, { cause: error });
    });
    const left = Math.max(1, Math.round(limitMs - (performance.now() - started)));
    return await send(func, params, credentials, limitMs, left);
  }

  async function send(
    func: string,
    params: Params,
    { user, password }: { user: string; password: string },
    limitMs: number,
    leftMs: number,
  ): Promise<VendorElement> {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined) form.set(name, String(value));
    }
    // Set last, so no parameter can replace them; credentials go in the body, never the URL.
    form.set("func", func);
    form.set("out", options.format);
    form.set("authinfo", `${user}:${password}`);

    try {
      // Bounds the whole exchange, queueing and connecting included; a body cut short of its
      // Content-Length or its last chunk is an error here, never an answer.
      const { status, retryAfter, body } = await postForm(dispatcher, target, form.toString(), leftMs);
      if (status === 429 || (status === 503 && retryAfter !== undefined)) {
        // 429 refuses before acting; a 503 may come from a backend that had started on the call.
        throw new BillmgrThrottledError(
          func,
          status,
          parseRetryAfter(retryAfter),
          status === 429 ? "not_applied" : "unknown",
        );
      }
      const answer = parseAnswer(body, options.format);
      if (answer.ok && status < 300) return answer.doc;
      if (!answer.ok && answer.reason === "vendor_error") {
        throw new BillmgrVendorError(func, answer.type, answer.object, answer.message);
      }
      // A proxy's 4xx means the call was not forwarded; after a 5xx or a broken 2xx the vendor may have acted.
      const outcome: Outcome = status >= 400 && status < 500 ? "not_applied" : "unknown";
      const what = answer.ok ? "unexpected answer" : answer.detail;
      throw new BillmgrUnavailableError(func, `HTTP ${status}, ${what}`, outcome, { status });
    } catch (error) {
      if (error instanceof BillmgrError) throw error;
      const written = !(error instanceof ExchangeFailed) || error.written;
      if (error instanceof ExchangeFailed && error.expired) {
        const detail = `no answer within ${limitMs} ms${limitMs < options.timeoutMs ? " (the caller's deadline)" : ""}`;
        throw new BillmgrTimeoutError(func, limitMs, written ? "unknown" : "not_applied", {
          cause: error,
          detail,
        });
      }
      const cause = error instanceof ExchangeFailed ? error.cause : error;
      const code = (cause as { code?: string } | undefined)?.code ?? "";
      const outcome: Outcome = NOT_SENT.has(code) ? "not_applied" : "unknown";
      if (TIMEOUTS.has(code)) throw new BillmgrTimeoutError(func, limitMs, outcome, { cause: error });
      const reason = error instanceof Error ? error.message : String(error);
      throw new BillmgrUnavailableError(func, `${code || "network error"}: ${reason}`, outcome, {
        cause: error,
      });
    }
  }

  function observe(func: string, n: number, started: number, error?: unknown): void {
    if (!options.onCall) return;
    const result =
      error === undefined
        ? "ok"
        : error instanceof BillmgrVendorError
          ? "vendor_error"
          : error instanceof BillmgrTimeoutError
            ? "timeout"
            : error instanceof BillmgrThrottledError
              ? "throttled"
              : "unavailable";
    options.onCall({ func, attempt: n, durationMs: performance.now() - started, result });
  }

  /** How long to wait before repeating a read that failed with `error`, or undefined to give up. */
  function retryWait(error: unknown, n: number): number | undefined {
    const backoff = Math.random() * options.retryBaseMs * 2 ** (n - 1);
    if (error instanceof BillmgrThrottledError) {
      if (error.retryAfterMs === undefined) return backoff;
      // Sooner than asked would only be refused again; a longer wait is the caller's to choose.
      if (error.retryAfterMs > maxRetryAfterMs) return undefined;
      // A little jitter, so the containers throttled together do not come back together.
      return error.retryAfterMs + Math.random() * options.retryBaseMs;
    }
    if (error instanceof BillmgrUnavailableError || error instanceof BillmgrTimeoutError) return backoff;
    return undefined;
  }

  return {
    async call(func, params, kind, callOptions = {}) {
      const deadline = callOptions.deadlineMs ?? Number.POSITIVE_INFINITY;
      const attempts = kind === "read" ? options.retries + 1 : 1;
      const left = deadline - Date.now();
      if (left < MIN_ATTEMPT_MS) {
        throw new BillmgrTimeoutError(func, Math.max(0, Math.round(left)), "not_applied", {
          detail: `not sent: ${left <= 0 ? "the caller's deadline has passed" : `${Math.round(left)} ms left before the caller's deadline`}`,
        });
      }
      let refreshedCredentials = false;
      for (let n = 1; ; n++) {
        const started = performance.now();
        const limitMs = Math.max(1, Math.round(Math.min(options.timeoutMs, deadline - Date.now())));
        try {
          const doc = await attempt(func, params, limitMs);
          observe(func, n, started);
          return doc;
        } catch (error) {
          observe(func, n, started, error);
          // The vendor refused the login, so nothing happened: after a rotation, one retry with fresh credentials is safe.
          if (error instanceof BillmgrVendorError && error.type === "auth" && !refreshedCredentials) {
            refreshedCredentials = true;
            const before = await options.credentials.get();
            options.credentials.refresh();
            const after = await options.credentials.get();
            const rotated = after.password !== before.password || after.user !== before.user;
            if (rotated && deadline - Date.now() >= MIN_ATTEMPT_MS) continue;
          }
          const wait = n < attempts ? retryWait(error, n) : undefined;
          // No retry that could not finish before the caller's deadline: the error in hand says more.
          if (wait === undefined || Date.now() + wait + MIN_ATTEMPT_MS > deadline) throw error;
          await sleep(wait);
        }
      }
    },
  };
}
