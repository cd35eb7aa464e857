import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Account, Sessions } from "./auth.ts";
import { type RecordedCall, withoutSecrets } from "./calls.ts";
import { CONTROL_PREFIX, handleControl } from "./control.ts";
import {
  DEFAULT_CHUNK_BYTES,
  type Fault,
  FaultQueue,
  GATEWAY_ERROR_PAGE,
  HTTP500_BODY,
  retryAfterSeconds,
  THROTTLE_BODIES,
} from "./faults.ts";
import { BodyTooLarge, formParams, readBody, send, sendTrickle } from "./http.ts";
import { Pauses } from "./pauses.ts";
import type { Product } from "./products.ts";
import type { Quirks } from "./quirks.ts";
import { contentType, type OutFormat, render, truncated, withoutElements } from "./render.ts";
import { SandboxState } from "./state.ts";
import { callVendor, type OrderIdShape, type VendorContext } from "./vendor.ts";

export { DEFAULT_CREDENTIALS } from "./auth.ts";
export type { RecordedCall } from "./calls.ts";
export type { FaultKind, FaultSpec } from "./faults.ts";
export type { Quirks } from "./quirks.ts";

export const VENDOR_PATH = "/manager/billmgr";
export const DEFAULT_PAGE_SIZE = 100;

export interface SandboxOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** `user:password`; default `reseller:sandbox-secret`. */
  credentials?: string;
  /** Starting time of the sandbox clock; it then runs in real time. */
  now?: Date;
  balanceMinor?: number;
  products?: readonly Product[];
  /** Clock milliseconds an ordered licence stays "processing" (status 5, no key); default 0. */
  provisionMs?: number;
  /** Page size of `func=soft` when the caller sends no `p_cnt`; default 100. */
  pageSize?: number;
  /** Where an order's new id is answered: `<id>` (default) or `<item.id>`. */
  orderIdShape?: OrderIdShape;
  /** The vendor's persistent habits; unnamed ones keep their defaults (see quirks.ts). */
  quirks?: Partial<Quirks>;
}

export interface Sandbox {
  /** The vendor endpoint, e.g. `http://127.0.0.1:PORT/manager/billmgr`. */
  readonly url: string;
  /** Base of the control endpoint, e.g. `http://127.0.0.1:PORT/sandbox`. */
  readonly controlUrl: string;
  readonly port: number;
  /** The account's user name (the password is never exposed). */
  readonly user: string;
  readonly state: SandboxState;
  readonly faults: FaultQueue;
  /** Every vendor call received, faulted and unauthenticated ones included, without credentials. */
  readonly calls: RecordedCall[];
  /** Calls of one vendor function, or of all when omitted. */
  callCount(func?: string): number;
  /** Lets every call held by a `hold` fault act and answer; answers how many were held. */
  release(): number;
  setNow(date: Date): void;
  /**
   * Stops listening and destroys every open socket, held ones included. Faulted calls still
   * waiting to act (`slow`, `act-late`) are dropped, not applied.
   */
  close(): Promise<void>;
}

function outFormat(params: Readonly<Record<string, string>>): OutFormat {
  return params.out === "json" ? "json" : "xml";
}

function urlHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

function checkOptions(options: SandboxOptions): void {
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1)
    throw new RangeError("pageSize must be a positive integer");
  if (options.orderIdShape !== undefined && !["id", "item.id"].includes(options.orderIdShape)) {
    throw new RangeError('orderIdShape must be "id" or "item.id"');
  }
  if (options.provisionMs !== undefined && !(options.provisionMs >= 0)) {
    throw new RangeError("provisionMs must be a non-negative number");
  }
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  checkOptions(options);
  const state = new SandboxState({
    now: options.now,
    balanceMinor: options.balanceMinor,
    products: options.products,
    provisionMs: options.provisionMs,
    quirks: options.quirks,
  });
  const account = new Account(options.credentials);
  const vendor: VendorContext = {
    state,
    account,
    sessions: new Sessions(() => state.now()),
    pageSize: options.pageSize ?? DEFAULT_PAGE_SIZE,
    orderIdShape: options.orderIdShape ?? "id",
  };
  const faults = new FaultQueue();
  const calls: RecordedCall[] = [];
  const sockets = new Set<Socket>();
  const pauses = new Pauses();
  let closing: Promise<void> | undefined;

  /**
   * `act-late`: the wait starts on arrival and starts again when the caller gives up, so the call
   * lands `delayMs` after the caller stopped waiting (or after `delayMs` held, if it never does).
   */
  async function actLate(res: ServerResponse, fault: Fault, act: () => void): Promise<void> {
    const pause = pauses.start(fault.delayMs);
    res.once("close", () => pause.restart());
    if (await pause.done) act();
    // No answer ever: the socket stays held until the client gives up or close() destroys it.
  }

  function throttle(res: ServerResponse, status: 429 | 503, fault: Fault): void {
    res.setHeader("retry-after", String(retryAfterSeconds(fault.delayMs)));
    send(res, status, "text/html; charset=utf-8", THROTTLE_BODIES[status]);
  }

  async function vendorRequest(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? "GET";
    if (method !== "GET" && method !== "POST") {
      res.setHeader("allow", "GET, POST");
      return send(res, 405, "text/plain; charset=utf-8", "method not allowed\n");
    }
    let body: string | undefined;
    if (method === "POST") {
      const raw = await readBody(req);
      const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
      // Like a CGI form handler, only a urlencoded body is read as parameters.
      body = type === "" || type === "application/x-www-form-urlencoded" ? raw : undefined;
    }
    const params = formParams(url.searchParams, body);
    const func = params.func ?? "";
    const out = outFormat(params);
    const fault: Fault | undefined = faults.take(func);
    calls.push({
      func,
      method,
      params: withoutSecrets(params),
      at: state.now().toISOString(),
      ...(fault ? { fault: fault.kind } : {}),
    });

    switch (fault?.kind) {
      case "timeout":
        return; // the socket stays open until the client gives up or close() destroys it
      case "drop":
        req.socket.destroy();
        return;
      case "http500":
        return send(res, 500, "text/html; charset=utf-8", HTTP500_BODY);
      case "html":
        return send(res, 200, "text/html; charset=utf-8", GATEWAY_ERROR_PAGE);
      case "malformed":
        return send(res, 200, contentType(out), truncated(func, out));
      case "throttle":
        return throttle(res, 429, fault);
      case "throttle-503":
        return throttle(res, 503, fault);
      case "slow":
        if (!(await pauses.wait(fault.delayMs))) return;
        break;
      case "hold":
        if (!(await pauses.hold())) return;
        break;
      case "act-late":
        return actLate(res, fault, () => callVendor(vendor, params));
    }

    const doc = callVendor(vendor, params);
    const answer = render(fault?.kind === "no-expiry" ? withoutElements(doc, "newexpiredate") : doc, out, {
      numericReferences: state.quirks.numericReferences,
    });
    switch (fault?.kind) {
      case "act-then-hang":
        return;
      case "act-then-drop":
        req.socket.destroy();
        return;
      case "trickle": {
        const chunkBytes = fault.chunkBytes ?? DEFAULT_CHUNK_BYTES;
        return sendTrickle(res, contentType(out), answer, chunkBytes, () => pauses.wait(fault.delayMs));
      }
    }
    send(res, 200, contentType(out), answer);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? "/", "http://sandbox.invalid");
      if (url.pathname === VENDOR_PATH) return await vendorRequest(req, res, url);
      if (url.pathname.startsWith(CONTROL_PREFIX)) {
        return await handleControl(req, res, url, { state, faults, calls, release: () => pauses.release() });
      }
      send(res, 404, "text/plain; charset=utf-8", `not found; the vendor endpoint is ${VENDOR_PATH}\n`);
    } catch (error) {
      if (error instanceof BodyTooLarge)
        return send(res, 413, "text/plain; charset=utf-8", `${error.message}\n`);
      if (req.destroyed || res.destroyed) return;
      const message = error instanceof Error ? error.message : String(error);
      send(res, 500, "text/plain; charset=utf-8", `sandbox failure: ${message}\n`);
    }
  }

  const server = createServer((req, res) => void onRequest(req, res));
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  // A client that resets mid-request must not take the sandbox down.
  server.on("clientError", (_error, socket) => socket.destroy());

  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const base = `http://${urlHost(host)}:${port}`;

  return {
    url: `${base}${VENDOR_PATH}`,
    controlUrl: `${base}/sandbox`,
    port,
    user: account.user,
    state,
    faults,
    calls,
    callCount: (func) =>
      func === undefined ? calls.length : calls.filter((call) => call.func === func).length,
    release: () => pauses.release(),
    setNow: (date) => state.setNow(date),
    close() {
      closing ??= new Promise<void>((resolve) => {
        pauses.close();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
