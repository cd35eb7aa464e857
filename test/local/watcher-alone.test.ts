import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startLocal } from "../support/local-start.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), "desk-watcher-alone-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const TOKEN = "watcher-alone-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  await exited;
}

/** `npm run watcher -- --date <night>` on its own: no `npm start` running, no NOW. */
async function watcherAlone(
  night: string,
  extra: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATA_DIR: dataDir,
    DYNAMODB_PORT: "0",
    SANDBOX_PORT: "0",
    BILLMGR_URL: "",
    ...extra,
  };
  delete env.NOW;
  const child = spawn(process.execPath, ["--import", "tsx", "local/watcher.ts", "--date", night], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, output };
}

describe("npm run watcher on its own", () => {
  it("starts its sandbox on the night's clock: licences that are fine that night are not called deleted", async () => {
    const local = await startLocal({
      DATA_DIR: dataDir,
      NOW: "2021-05-01",
      API_TOKEN: TOKEN,
      BILLMGR_URL: "",
    });
    const ids: string[] = [];
    try {
      for (const [n, ip] of [
        [1, "82.156.70.1"],
        [2, "82.156.70.2"],
      ] as const) {
        const answer = await fetch(`${local.url}/licenses`, {
          method: "POST",
          headers: { ...auth, "idempotency-key": `alone-${n}` },
          body: JSON.stringify({ ip, name: `alone-${n}`, product: "ispmanager5-lite", period: 1 }),
        });
        expect(answer.status).toBe(201);
        ids.push(((await answer.json()) as { id: string }).id);
      }
    } finally {
      await stop(local.child);
    }

    // Both expire 2021-06-01: on 2021-05-29 they are active, three days from their expiry. On today's
    // clock the sandbox would have expired and deleted them long ago.
    const run = await watcherAlone("2021-05-29");
    expect(run.code, run.output).toBe(0);
    const outbox = readFileSync(join(dataDir, "outbox.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { kind: string; subject: string; body: string; night: string });
    const tonight = outbox.filter((m) => m.night === "2021-05-29");
    expect(tonight.map((m) => m.kind)).not.toContain("vendor_deleted");
    const expiry = tonight.filter((m) => m.kind === "expiry");
    expect(expiry.map((m) => m.subject).sort()).toEqual([
      "[licence desk] alone-1 (82.156.70.1) expires in 3 days (2021-06-01)",
      "[licence desk] alone-2 (82.156.70.2) expires in 3 days (2021-06-01)",
    ]);
    // Their warnings are mails of their own (beside the product's lifecycle mail): a night with nothing
    // else to tell mails no summary.
    expect(tonight.map((m) => m.kind).sort()).toEqual(["expiry", "expiry", "lifecycle"]);
    for (const [i, id] of ids.entries())
      expect(expiry.find((m) => m.subject.includes(`alone-${i + 1} `))?.body).toContain(`(id ${id})`);
  }, 120_000);

  it("says a bad setting in one line naming the variable, exit code 2, no stack trace", async () => {
    const run = await watcherAlone("2021-05-29", { DYNAMODB_PORT: "abc" });
    expect(run.code).toBe(2);
    expect(run.output.trim()).toBe(
      'npm run watcher: DYNAMODB_PORT must be a port number from 0 to 65535 (0 picks a free one), got "abc"',
    );
  });
});
