import { Agent, request } from "undici";
import { advanceClock, pinClock, resetClock } from "../../functions/lib/clock.ts";
import { startLocalApi } from "../../local/server.ts";
import { handlerEnv } from "./fixtures.ts";
import { type VendorSandbox, vendorSandbox } from "./vendor.ts";

export { freshIp } from "./fixtures.ts";

export const TOKEN = "test-token-0123456789abcdef";
export const OTHER_TOKEN = "unknown-token-0123456789abcdef";
/** Client `operator`: an operator's only where the harness's OPERATOR_CLIENTS names it. */
export const OPERATOR_TOKEN = "operator-token-0123456789abcdef";

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON. */
  body: any;
  /** As received, for searching. */
  text: string;
}

/**
 * The API as a client sees it: the local server (the real handler modules) over real HTTP,
 * the register on DynamoDB Local, the vendor sandbox, the service clock pinned to `now`. Time passes by
 * `advance` (settle windows, locks, leases), never by sleeping.
 */
export async function apiHarness(options: { now: string; env?: Record<string, string> }) {
  const vendor: VendorSandbox = await vendorSandbox({ now: new Date(`${options.now}T00:00:00Z`) });
  pinClock(new Date(`${options.now}T00:00:00Z`));
  const table = `api-${Math.random().toString(36).slice(2, 10)}`;
  const api = await startLocalApi({
    port: 0,
    env: {
      ...handlerEnv({ vendorUrl: vendor.sandbox.url, table }),
      API_TOKEN: TOKEN,
      OPERATOR_TOKEN,
      ...options.env,
    },
  });
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 64 });

  async function call(
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    init: {
      body?: unknown;
      /** Sent as it is: text, or bytes (which need not be UTF-8). */
      rawBody?: string | Uint8Array;
      key?: string;
      token?: string | null;
      /** On top of the token's, the key's and the content type's; an array sends the header once per value. */
      headers?: Record<string, string | string[]>;
    } = {},
  ): Promise<Answer> {
    const headers: Record<string, string | string[]> = {};
    if (init.token !== null) headers.authorization = `Bearer ${init.token ?? TOKEN}`;
    if (init.key !== undefined) headers["idempotency-key"] = init.key;
    const body = init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
    if (body !== undefined) headers["content-type"] = "application/json";
    Object.assign(headers, init.headers);
    const response = await request(`${api.url}${path}`, { method, headers, body, dispatcher: agent });
    const text = await response.body.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.statusCode, headers: response.headers, body: parsed, text };
  }

  return {
    vendor,
    table,
    call,
    /** Moves both clocks, ours and the vendor's. */
    setToday(day: string) {
      const instant = new Date(`${day}T00:00:00Z`);
      pinClock(instant);
      vendor.sandbox.setNow(instant);
    },
    /**
     * Lets `ms` pass for the desk (its business date, its locks, leases and settle windows) and for the
     * vendor, as a client that waits that long would see. Real timers (request deadlines, the vendor
     * client's timeouts, the sandbox's late acts) are not moved.
     */
    advance(ms: number) {
      advanceClock(ms);
      vendor.sandbox.setNow(new Date(vendor.sandbox.state.now().getTime() + ms));
    },
    async close() {
      await agent.close();
      await api.close();
      await vendor.close();
      pinClock(undefined);
      resetClock();
    },
  };
}

export type ApiHarness = Awaited<ReturnType<typeof apiHarness>>;
