import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runToExit as runStartToExit } from "../support/local-start.ts";

/**
 * `npm start` told something it cannot use (a port another process holds, a value that is no port)
 * says so in one line naming what to change, and exits non-zero before serving anything.
 */
const dataDir = mkdtempSync(join(tmpdir(), "desk-start-settings-"));
let held: Server;
let heldPort: number;
beforeAll(async () => {
  held = createServer();
  await new Promise<void>((resolve) => held.listen(0, "127.0.0.1", resolve));
  heldPort = (held.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => held.close(() => resolve()));
  rmSync(dataDir, { recursive: true, force: true });
});

/** `npm start` run to its exit, its own data folder (the register's files take a lock). */
function runToExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return runStartToExit({ DATA_DIR: mkdtempSync(join(dataDir, "run-")), ...env });
}

describe("npm start with a setting it cannot use", () => {
  const cases: Array<[string, () => Record<string, string>, RegExp]> = [
    [
      "the API's port in use",
      () => ({ PORT: String(heldPort) }),
      /^npm start: port (\d+) for the API is in use; set PORT to a free port$/,
    ],
    [
      "the register's port in use",
      () => ({ DYNAMODB_PORT: String(heldPort) }),
      /^npm start: port (\d+) for the register \(dynalite\) is in use; set DYNAMODB_PORT to a free port$/,
    ],
    [
      "the sandbox's port in use",
      () => ({ SANDBOX_PORT: String(heldPort) }),
      /^npm start: port (\d+) for the vendor sandbox is in use; set SANDBOX_PORT to a free port$/,
    ],
    [
      "PORT=abc",
      () => ({ PORT: "abc" }),
      /^npm start: PORT must be a port number from 0 to 65535 \(0 picks a free one\), got "abc"$/,
    ],
    [
      "a function setting out of range",
      () => ({ IDEMPOTENCY_TTL_HOURS: "1" }),
      /^npm start: invalid configuration: IDEMPOTENCY_TTL_HOURS: .+$/,
    ],
    [
      "one token for the client and the operator",
      () => ({ API_TOKEN: "same-token-0123456789abcdef", OPERATOR_TOKEN: "same-token-0123456789abcdef" }),
      /^npm start: invalid configuration: OPERATOR_TOKEN: must differ from API_TOKEN$/,
    ],
  ];

  // Concurrent: each case is a Node process loading the whole desk, and they share nothing but the held port.
  it.concurrent.each(cases)(
    "%s: one line naming the variable, exit code 2, no stack trace",
    async (_, env, line) => {
      const { code, output } = await runToExit(env());
      const lines = output.trim().split("\n");
      expect(lines, output).toHaveLength(1);
      expect(lines[0]).toMatch(line);
      const port = line.exec(lines[0] as string)?.[1];
      if (port !== undefined) expect(Number(port)).toBe(heldPort);
      expect(code).toBe(2);
    },
    90_000,
  );
});
