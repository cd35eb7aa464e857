import type { Dispatcher } from "undici";
import Agent from "undici/lib/dispatcher/agent.js";

export type { Dispatcher };
/**
 * undici's Agent from its internal module, skipping the package entry (fetch, WebSocket, cache stores,
 * mocks) and its request API: much less in every vendor bundle and off its cold start (`npm run bench`).
 * The one exchange the transport needs is `postForm` below, on the Agent's `dispatch`. The path is
 * undici's internal, so package.json pins undici to one minor version and the client suite exercises
 * every call through it.
 */
export { Agent };

/** The vendor's answer to one form POST, read whole. */
export interface FormReply {
  status: number;
  /** The `Retry-After` header, as sent. */
  retryAfter: string | undefined;
  /** The body as UTF-8, a leading byte-order mark dropped (as undici's `body.text()` does). */
  body: string;
}

/** Where the form goes: an origin and a path, split from the vendor URL once, not per call. */
export interface FormTarget {
  origin: string;
  path: string;
}

export function formTarget(url: string | URL): FormTarget {
  const target = new URL(url);
  return { origin: target.origin, path: `${target.pathname}${target.search}` };
}

/**
 * Why an exchange gave no answer. `written` says whether the request may have reached the vendor:
 * false only when undici never started writing it. `expired` says the exchange's own time limit ended it.
 */
export class ExchangeFailed extends Error {
  override readonly name = "ExchangeFailed";
  constructor(
    readonly written: boolean,
    readonly expired: boolean,
    options?: { cause?: unknown },
  ) {
    super(expired ? "no whole answer within the time limit" : "the exchange failed", options);
  }
}

const FORM_HEADERS = { "content-type": "application/x-www-form-urlencoded" };

/**
 * POSTs a form and reads the whole answer, over within `limitMs` whatever the vendor does: undici's
 * own timers only bound the wait for headers and each gap in the body, so a trickling answer passes them.
 *
 * A dispatch handler of our own rather than undici's `request()`: that one wraps every answer in a
 * Readable stream and an async resource, which cost more than the rest of a vendor call's client
 * side together (`npm run bench`), and it needs an AbortSignal and a handler proxy to tell whether the
 * request was written. Here the handler sees both directly.
 */
export function postForm(
  dispatcher: Dispatcher,
  target: FormTarget,
  form: string,
  limitMs: number,
): Promise<FormReply> {
  return new Promise<FormReply>((resolve, reject) => {
    const exchange = new FormExchange(limitMs, resolve, reject);
    dispatcher.dispatch(
      {
        origin: target.origin,
        path: target.path,
        method: "POST",
        headers: FORM_HEADERS,
        body: form,
        headersTimeout: limitMs,
        bodyTimeout: limitMs,
      },
      exchange,
    );
  });
}

/** undici's dispatch handler (the form its core calls directly) for one `postForm`. */
class FormExchange implements Dispatcher.DispatchHandler {
  private settled = false;
  /** undici calls `onConnect` right before it writes the request; a request aborted there is never sent. */
  private written = false;
  private abort: ((reason?: Error) => void) | undefined;
  private status = 0;
  private rawHeaders: Buffer[] = [];
  private chunks: Buffer[] = [];
  private length = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    limitMs: number,
    private readonly resolve: (reply: FormReply) => void,
    private readonly reject: (error: ExchangeFailed) => void,
  ) {
    this.timer = setTimeout(() => this.expire(), limitMs);
  }

  private expire(): void {
    const error = new ExchangeFailed(this.written, true);
    this.fail(error);
    // Still queued or connecting: `onConnect` aborts it when undici gets there, before any byte is written.
    this.abort?.(error);
  }

  private fail(error: ExchangeFailed): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.reject(error);
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.settled) {
      abort(new ExchangeFailed(false, true));
      return;
    }
    this.abort = abort;
    this.written = true;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    // 1xx answers are interim; the final status and headers come after them.
    if (statusCode >= 200) {
      this.status = statusCode;
      this.rawHeaders = rawHeaders;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.length += chunk.length;
    return true;
  }

  onComplete(): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    const bytes =
      this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.length);
    const bom = bytes.length > 2 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
    this.resolve({
      status: this.status,
      retryAfter: this.header("retry-after"),
      body: bytes.toString("utf8", bom ? 3 : 0),
    });
  }

  onError(error: Error): void {
    this.fail(new ExchangeFailed(this.written, false, { cause: error }));
  }

  /** A response header by its lower-case name (the first, if repeated). */
  private header(name: string): string | undefined {
    for (let i = 0; i + 1 < this.rawHeaders.length; i += 2) {
      const key = this.rawHeaders[i] as Buffer;
      if (key.length === name.length && key.toString("latin1").toLowerCase() === name) {
        return (this.rawHeaders[i + 1] as Buffer).toString("latin1");
      }
    }
    return undefined;
  }
}
