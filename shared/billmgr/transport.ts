import { setTimeout as sleep } from "node:timers/promises";
import type { CredentialsProvider } from "../credentials.ts";
import { type Format, parseAnswer, type VendorElement } from "./document.ts";
import { BillmgrTimeoutError, BillmgrUnavailableError, BillmgrVendorError, type Outcome } from "./errors.ts";
import { Agent, type Dispatcher, request } from "./undici.ts";

/**
 * How a call may be repeated. `read` changes nothing and is retried on transient faults;
 * `write` changes a licence and `money` charges the balance: both are sent once.
 */
export type CallKind = "read" | "write" | "money";

export interface CallEvent {
  func: string;
  attempt: number;
  durationMs: number;
  result: "ok" | "vendor_error" | "unavailable" | "timeout";
}

export interface TransportOptions {
  url: string;
  credentials: CredentialsProvider;
  timeoutMs: number;
  /** Extra attempts for read-only calls. */
  retries: number;
  /** Base of the full-jitter backoff between read retries. */
  retryBaseMs: number;
  format: Format;
  dispatcher?: Dispatcher;
  /** Sees every attempt (for logs, metrics and audit); never sees parameters or credentials. */
  onCall?: (event: CallEvent) => void;
}

export type Params = Record<string, string | number | undefined>;

export interface Transport {
  call(func: string, params: Params, kind: CallKind): Promise<VendorElement>;
}

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

export function createTransport(options: TransportOptions): Transport {
  const dispatcher = options.dispatcher ?? processAgent(options.timeoutMs);

  async function attempt(func: string, params: Params): Promise<VendorElement> {
    const { user, password } = await options.credentials.get();
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined) form.set(name, String(value));
    }
    // Set last, so no parameter can replace them; credentials go in the body, never the URL.
    form.set("func", func);
    form.set("out", options.format);
    form.set("authinfo", `${user}:${password}`);

    try {
      // undici's own timers bound the wait for the answer and every gap in its body; no extra timer per call.
      const response = await request(options.url, {
        method: "POST",
        dispatcher,
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      });
      const body = await response.body.text();
      const answer = parseAnswer(body, options.format);
      if (answer.ok && response.statusCode < 300) return answer.doc;
      if (!answer.ok && answer.reason === "vendor_error") {
        throw new BillmgrVendorError(func, answer.type, answer.object, answer.message);
      }
      // A proxy's 4xx means the call was not forwarded; after a 5xx or a broken 2xx the vendor may have acted.
      const outcome: Outcome =
        response.statusCode >= 400 && response.statusCode < 500 ? "not_applied" : "unknown";
      const what = answer.ok ? "unexpected answer" : answer.detail;
      throw new BillmgrUnavailableError(func, `HTTP ${response.statusCode}, ${what}`, outcome, {
        status: response.statusCode,
      });
    } catch (error) {
      if (error instanceof BillmgrVendorError || error instanceof BillmgrUnavailableError) throw error;
      const code = (error as { code?: string }).code ?? "";
      const outcome: Outcome = NOT_SENT.has(code) ? "not_applied" : "unknown";
      if (TIMEOUTS.has(code))
        throw new BillmgrTimeoutError(func, options.timeoutMs, outcome, { cause: error });
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
            : "unavailable";
    options.onCall({ func, attempt: n, durationMs: performance.now() - started, result });
  }

  return {
    async call(func, params, kind) {
      const attempts = kind === "read" ? options.retries + 1 : 1;
      let refreshedCredentials = false;
      for (let n = 1; ; n++) {
        const started = performance.now();
        try {
          const doc = await attempt(func, params);
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
            if (after.password !== before.password || after.user !== before.user) continue;
          }
          const transient = error instanceof BillmgrUnavailableError || error instanceof BillmgrTimeoutError;
          if (!transient || n >= attempts) throw error;
          await sleep(Math.random() * options.retryBaseMs * 2 ** (n - 1));
        }
      }
    },
  };
}
