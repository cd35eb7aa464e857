import { request } from "undici";
import { type SandboxOptions, startSandbox } from "../../sandbox/server.ts";
import { billingClientFromConfig } from "../../shared/billmgr/index.ts";
import type { TransportOptions } from "../../shared/billmgr/transport.ts";
import type { BillmgrConfig } from "../../shared/config.ts";
import { readBillmgrConfig } from "../../shared/config.ts";
import { VENDOR_CREDENTIALS } from "./secrets.ts";

export type FaultKind =
  | "timeout"
  | "drop"
  | "http500"
  | "html"
  | "malformed"
  | "slow"
  | "act-then-hang"
  | "act-then-drop";

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
    fault: (func: string, kind: FaultKind, count = 1, delayMs?: number) =>
      control("POST", "faults", { func, kind, count, delayMs }),
    clock: (now: string) => control("POST", "clock", { now }),
    setBalance: (minor: number) => control("POST", "balance", { minor }),
    state: () =>
      control("GET", "state") as Promise<{ licences: Array<Record<string, unknown>>; balance: unknown }>,
    calls: (func: string) => sandbox.callCount(func),
    close: () => sandbox.close(),
  };
}

export type VendorSandbox = Awaited<ReturnType<typeof vendorSandbox>>;
