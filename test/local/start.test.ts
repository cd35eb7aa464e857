import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runToExit, startLocal } from "../support/local-start.ts";

const dataDir = mkdtempSync(join(tmpdir(), "desk-start-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** `npm start` on free ports, its data under this test's folder. */
const start = () =>
  startLocal({
    DATA_DIR: dataDir,
    NOW: "2021-05-01",
    API_TOKEN: "start-test-token-0123456789",
    BILLMGR_URL: "",
  });

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill("SIGTERM");
  return exited;
}

const auth = { authorization: "Bearer start-test-token-0123456789" };

describe("npm start", () => {
  it("serves the API, says how, keeps its data across a restart, and stops cleanly", async () => {
    const first = await start();
    expect(first.output()).toMatch(/register: dynalite at http:\/\/127\.0\.0\.1:\d+/);
    expect(first.output()).toMatch(/vendor: {3}the in-process sandbox/);
    expect(first.output()).toMatch(/clock: {4}pinned to 2021-05-01/);
    // An operator's token of its own, generated and printed, beside API_TOKEN's client `local`.
    const operator =
      /operator: Authorization: Bearer ([0-9a-f]{64}) {3}\(client "operator": GET \/outcomes, POST \/outcomes\/\{key\}; generated for this run; set OPERATOR_TOKEN to choose one\)/.exec(
        first.output(),
      )?.[1];
    expect(operator, first.output()).toBeDefined();
    const asOperator = await fetch(`${first.url}/outcomes`, {
      headers: { authorization: `Bearer ${operator}` },
    });
    expect([asOperator.status, await asOperator.json()]).toEqual([200, { items: [] }]);
    const asClient = await fetch(`${first.url}/outcomes`, { headers: auth });
    expect(asClient.status).toBe(403);
    const created = await fetch(`${first.url}/licenses`, {
      method: "POST",
      headers: { ...auth, "idempotency-key": "start-1", "content-type": "application/json" },
      body: JSON.stringify({ ip: "82.156.37.16", name: "kept", product: "ispmanager5-lite", period: 1 }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect(await stop(first.child)).toBe(0);
    expect(first.output()).toContain("SIGTERM: shutting down");

    const second = await start();
    try {
      const listed = (await (await fetch(`${second.url}/licenses`, { headers: auth })).json()) as {
        items: Array<{ id: string }>;
      };
      expect(listed.items.map((l) => l.id)).toEqual([id]);
      // The sandbox remembers it too, so vendor calls on it still work after the restart.
      const suspended = await fetch(`${second.url}/licenses/${id}/suspend`, {
        method: "POST",
        headers: auth,
      });
      expect(suspended.status).toBe(200);
    } finally {
      expect(await stop(second.child)).toBe(0);
    }
  }, 90_000);

  it("a second one on the same DATA_DIR (another DYNAMODB_PORT): one line naming the folder, exit 2; the first serves on", async () => {
    const first = await start();
    try {
      // DYNAMODB_PORT=0 as the first's: each engine gets a port of its own, and the folder is what they share.
      const second = await runToExit({ DATA_DIR: dataDir, API_TOKEN: "start-test-token-0123456789" });
      const lines = second.output.trim().split("\n");
      expect(lines, second.output).toEqual([
        `npm start: the data directory ${dataDir} is in use by another npm start or watcher run (its register engine holds it); stop that one or set DATA_DIR to another directory`,
      ]);
      expect(second.code).toBe(2);
      expect((await fetch(`${first.url}/licenses`, { headers: auth })).status).toBe(200);
    } finally {
      expect(await stop(first.child)).toBe(0);
    }
  }, 90_000);
});
