import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { localEnvironment } from "../../local/environment.ts";
import {
  checkFunctionSettings,
  readApiSettings,
  readLocalSettings,
  SettingError,
} from "../../local/settings.ts";

const problems = (read: () => unknown): string[] => {
  try {
    read();
  } catch (error) {
    if (error instanceof SettingError) return error.problems;
    throw error;
  }
  return [];
};

describe("local settings", () => {
  it("have the documented defaults", () => {
    expect(readApiSettings({})).toEqual({ port: 3000, reconcileEverySeconds: 60 });
    const local = readLocalSettings({});
    expect(local).toMatchObject({
      dynamoPort: 8000,
      sandbox: { port: 8089, credentials: "reseller:sandbox-secret" },
    });
    expect(local.dataDir).toBe(join(process.cwd(), ".local"));
    expect(local.sandbox.balanceMinor).toBeUndefined();
  });

  it("name every bad value and its variable, and never echo the sandbox's password", () => {
    expect(problems(() => readApiSettings({ PORT: "abc", RECONCILE_EVERY_SECONDS: "0" }))).toEqual([
      'PORT must be a port number from 0 to 65535 (0 picks a free one), got "abc"',
      'RECONCILE_EVERY_SECONDS must be a whole number of seconds, at least 1, got "0"',
    ]);
    const local = problems(() =>
      readLocalSettings({
        DYNAMODB_PORT: "99999",
        SANDBOX_PORT: "-1",
        SANDBOX_BALANCE: "lots",
        SANDBOX_CREDENTIALS: "no-colon-secret",
        NOW: "someday",
      }),
    );
    expect(local.map((line) => line.split(" ")[0])).toEqual([
      "DYNAMODB_PORT",
      "SANDBOX_PORT",
      "SANDBOX_CREDENTIALS",
      "NOW",
      "SANDBOX_BALANCE",
    ]);
    expect(local.join("\n")).not.toContain("no-colon-secret");
  });

  it("check the functions' settings as the functions will read them", () => {
    expect(problems(() => checkFunctionSettings({}))).toEqual([]);
    expect(
      problems(() =>
        checkFunctionSettings({
          IDEMPOTENCY_TTL_HOURS: "1",
          BILLMGR_TIMEOUT_MS: "x",
          VENDOR_CONCURRENCY: "0",
        }),
      ),
    ).toEqual([
      expect.stringMatching(/^invalid configuration: IDEMPOTENCY_TTL_HOURS: /),
      expect.stringMatching(/^invalid configuration: BILLMGR_TIMEOUT_MS: /),
      expect.stringMatching(/^invalid configuration: VENDOR_CONCURRENCY: /),
    ]);
  });

  it("keep the settle window at a minute or more: a read right after a money call decides nothing", () => {
    expect(problems(() => checkFunctionSettings({ RECONCILE_AFTER_SECONDS: "0" }))).toEqual([
      expect.stringMatching(/^invalid configuration: RECONCILE_AFTER_SECONDS: .*60/),
    ]);
    expect(problems(() => checkFunctionSettings({ RECONCILE_AFTER_SECONDS: "60" }))).toEqual([]);
    // Tests lower it by a setting that says so, refused where the product really runs.
    expect(problems(() => checkFunctionSettings({ TEST_ONLY_RECONCILE_AFTER_SECONDS: "1" }))).toEqual([]);
    expect(
      problems(() =>
        checkFunctionSettings({ TEST_ONLY_RECONCILE_AFTER_SECONDS: "1", AWS_LAMBDA_FUNCTION_NAME: "desk" }),
      ),
    ).toEqual([expect.stringMatching(/TEST_ONLY_RECONCILE_AFTER_SECONDS: is for local tests only/)]);
  });
});

describe("SANDBOX_BALANCE for the sandbox npm start runs", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "desk-balance-"));
  afterEach(() => vi.unstubAllEnvs());
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  /** The local environment as npm start builds it (in this process: the same code, without the API). */
  async function balanceAtStart(balance: string | undefined): Promise<{ minor: number; line: string }> {
    vi.stubEnv("DATA_DIR", dataDir);
    vi.stubEnv("DYNAMODB_PORT", "0");
    vi.stubEnv("SANDBOX_PORT", "0");
    vi.stubEnv("BILLMGR_URL", "");
    vi.stubEnv("SANDBOX_BALANCE", balance);
    const local = await localEnvironment({ joinRunning: false });
    try {
      return { minor: local.sandbox?.state.balanceMinor ?? Number.NaN, line: local.vendorLine };
    } finally {
      await local.close();
    }
  }

  it("opens with it, keeps the balance across restarts when unset, and a new one wins over the saved one", async () => {
    expect(await balanceAtStart("250.5")).toEqual({
      minor: 25_050,
      line: expect.stringMatching(/^the in-process sandbox at .*, balance 250\.50 EUR$/),
    });
    expect((await balanceAtStart(undefined)).minor).toBe(25_050);
    expect((await balanceAtStart("12")).minor).toBe(1_200);
    expect((await balanceAtStart(undefined)).minor).toBe(1_200);
  });
});
