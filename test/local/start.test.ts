import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../functions/lib/errors.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), "desk-start-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** `npm start` as a newcomer runs it (the same entry, as a child process), on free ports. */
async function start(): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "local/main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: "0",
      DYNAMODB_PORT: "0",
      SANDBOX_PORT: "0",
      NOW: "2021-05-01",
      API_TOKEN: "start-test-token-0123456789",
      BILLMGR_URL: "",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start-up line:\n${output}`)), 30_000);
    const look = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      } else setTimeout(look, 50);
    };
    look();
  });
  return { child, url, output: () => output };
}

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
});

describe("the README", () => {
  it("lists every error code the API answers with", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    for (const code of new Set(ERROR_CODES)) expect(readme, code).toContain(`\`${code}\``);
  });
});
