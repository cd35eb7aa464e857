import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep } from "../support/fixtures.ts";
import { startLocal } from "../support/local-start.ts";
import { VENDOR_CREDENTIALS } from "../support/secrets.ts";
import { type VendorSandbox, vendorSandbox } from "../support/vendor.ts";

/**
 * The process-kill row of the money table, for real: `npm start` (the very handlers) is killed with
 * SIGKILL while a renewal is in flight, started again on the same data, and the client retries with
 * the same key. The vendor is a sandbox outside the killed process, so its book and charges survive.
 */
const dataDir = mkdtempSync(join(tmpdir(), "desk-kill-"));
const TOKEN = "kill-test-token-0123456789";
let vendor: VendorSandbox;
beforeAll(async () => {
  vendor = await vendorSandbox({ now: new Date("2021-05-01T00:00:00Z") });
});
afterAll(async () => {
  await vendor.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const start = () =>
  startLocal({
    DATA_DIR: dataDir,
    NOW: "2021-05-01",
    API_TOKEN: TOKEN,
    BILLMGR_URL: vendor.sandbox.url,
    BILLMGR_CREDENTIALS: VENDOR_CREDENTIALS,
    BILLMGR_TIMEOUT_MS: "20000",
    IDEMPOTENCY_LOCK_SECONDS: "2",
    TEST_ONLY_RECONCILE_AFTER_SECONDS: "1",
    RECONCILE_EVERY_SECONDS: "3600",
  });

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

const call = async (url: string, path: string, body: unknown, key: string) => {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "idempotency-key": key, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
};

/** Retries the same key, as the answers say, until a final answer. */
async function retryUntilFinal(url: string, path: string, body: unknown, key: string) {
  const codes: string[] = [];
  for (let i = 0; i < 10; i++) {
    const answer = await call(url, path, body, key);
    codes.push(answer.body?.error?.code ?? String(answer.status));
    if (answer.status < 300) return { answer, codes };
    await sleep(1000);
  }
  throw new Error(`no final answer: ${codes.join(", ")}`);
}

const charged = async () => ((await vendor.state()) as unknown as { chargedMinor: number }).chargedMinor;

describe("npm start killed in the middle of a renewal", () => {
  it.each([
    [
      "after the renewal was sent (the vendor acted, its answer never came)",
      "service.prolong",
      "act-then-hang",
    ],
    ["before the renewal was sent (while reading the form)", "soft.edit", "timeout"],
  ] as const)(
    "%s: the retry with the same key renews exactly once",
    async (_, func, fault) => {
      let desk = await start();
      try {
        const ordered = await call(
          desk.url,
          "/licenses",
          {
            ip: `82.156.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
            name: "killed",
            product: "ispmanager5-lite",
            period: 1,
          },
          crypto.randomUUID(),
        );
        expect(ordered.status).toBe(201);
        const id: string = ordered.body.id;
        const [prolongsBefore, moneyBefore] = [vendor.calls("service.prolong"), await charged()];

        await vendor.fault(func, fault, 1);
        const key = crypto.randomUUID();
        const inFlight = call(desk.url, `/licenses/${id}/renew`, { period: 1 }, key).catch((e: unknown) => e);
        const callsBefore = vendor.calls(func);
        while (vendor.calls(func) === callsBefore) await sleep(10);
        await kill(desk.child);
        expect(await inFlight).toBeInstanceOf(Error);

        desk = await start();
        const { answer, codes } = await retryUntilFinal(
          desk.url,
          `/licenses/${id}/renew`,
          { period: 1 },
          key,
        );
        expect(answer.body.expiresOn).toBe("2021-07-01");
        // While the dead request's lock (2 s) lasts, the retry is told to wait; a slow restart may outlast it.
        expect(
          codes.slice(0, -1).every((code) => code === "request_in_progress" || code === "outcome_pending"),
        ).toBe(true);
        expect([vendor.calls("service.prolong") - prolongsBefore, (await charged()) - moneyBefore]).toEqual([
          1, 600,
        ]);
      } finally {
        await kill(desk.child);
      }
    },
    90_000,
  );
});
