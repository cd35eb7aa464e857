import { request } from "undici";
import type { FaultKind as SandboxFaultKind } from "../../sandbox/faults.ts";
import type { Quirks } from "../../sandbox/quirks.ts";
import { type SandboxOptions, startSandbox } from "../../sandbox/server.ts";
import type { Charge, Licence } from "../../sandbox/state.ts";
import { billingClientFromConfig } from "../../shared/adapters/billmgr/index.ts";
import type { TransportOptions } from "../../shared/adapters/billmgr/transport.ts";
import type { BillmgrConfig } from "../../shared/config.ts";
import { readBillmgrConfig } from "../../shared/config.ts";
import { VENDOR_CREDENTIALS } from "./secrets.ts";

/**
 * Every fault the sandbox can inject: timeout, drop, http500, html, malformed, throttle,
 * throttle-503, slow, hold, act-then-hang, act-then-drop, act-late, no-expiry, trickle (the sandbox's own
 * union, so the two never drift apart).
 */
export type FaultKind = SandboxFaultKind;

/** `GET /sandbox/state` as JSON. */
export interface SandboxStateJson {
  now: string;
  today: string;
  balanceMinor: number;
  balance: string;
  currency: string;
  /** Sum of every charge since the sandbox started. */
  chargedMinor: number;
  charges: Charge[];
  quirks: Quirks;
  faults: unknown[];
  licences: Licence[];
}

/** A sandbox on a free port, with the suite's credentials, and the calls tests make on it. */
export async function vendorSandbox(options: SandboxOptions = {}) {
  const sandbox = await startSandbox({ credentials: VENDOR_CREDENTIALS, ...options });
  const base = new URL("/sandbox/", sandbox.url);
  const control = async (method: "POST" | "DELETE" | "GET", path: string, body?: unknown) => {
    const response = await request(new URL(path, base), {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode >= 300)
      throw new Error(`sandbox control ${path}: ${response.statusCode} ${text}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  };
  return {
    sandbox,
    /** A client as the product builds it, pointed at this sandbox; config overrides by variable. */
    client(
      env: Record<string, string> = {},
      overrides: Partial<Pick<TransportOptions, "credentials" | "onCall">> = {},
    ) {
      const config: BillmgrConfig = readBillmgrConfig({
        BILLMGR_URL: sandbox.url,
        BILLMGR_CREDENTIALS: VENDOR_CREDENTIALS,
        BILLMGR_TIMEOUT_MS: "2000",
        BILLMGR_RETRY_BASE_MS: "1",
        ...env,
      });
      return billingClientFromConfig(config, overrides);
    },
    fault: (
      func: string,
      kind: FaultKind,
      count = 1,
      delayMs?: number,
      extra: { chunkBytes?: number; skip?: number } = {},
    ) => control("POST", "faults", { func, kind, count, delayMs, ...extra }),
    /** Lets the calls a `hold` fault holds act and answer; answers how many were held. */
    release: async () => ((await control("POST", "faults/release")) as { released: number }).released,
    clock: (now: string) => control("POST", "clock", { now }),
    setBalance: (minor: number) => control("POST", "balance", { minor }),
    /** Changes the named quirks (`pageCap: null` removes the cap); answers every quirk. */
    quirks: async (changes: Partial<Quirks> = {}) =>
      ((await control("POST", "quirks", changes)) as { quirks: Quirks }).quirks,
    /** Staff re-key the licence in the vendor's panel: a new key, no charge; answers the licence. */
    rekey: async (id: string) =>
      ((await control("POST", `licences/${encodeURIComponent(id)}/rekey`)) as { licence: Licence }).licence,
    state: () => control("GET", "state") as Promise<SandboxStateJson>,
    calls: (func: string) => sandbox.callCount(func),
    close: () => sandbox.close(),
  };
}

export type VendorSandbox = Awaited<ReturnType<typeof vendorSandbox>>;
