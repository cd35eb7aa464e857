import { type ChildProcess, spawn } from "node:child_process";

const ROOT = new URL("../../", import.meta.url).pathname;

/** `npm start` as a newcomer runs it (the same entry, as a child process), with this environment on top. */
export async function startLocal(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "local/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0", DYNAMODB_PORT: "0", SANDBOX_PORT: "0", ...env },
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
      // The banner's last line ("try: curl ...") says every line before it has been written.
      if (match?.[1] && /\n {2}try: /.test(output)) {
        clearTimeout(timer);
        resolve(match[1]);
      } else setTimeout(look, 50);
    };
    look();
  });
  return { child, url, output: () => output };
}

/**
 * `npm start` run to its exit, with this environment on top of free ports. A start that succeeds
 * despite what it was given would serve forever: it is stopped after a minute, so the test fails.
 */
export function runToExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "local/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0", DYNAMODB_PORT: "0", SANDBOX_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr.on("data", (chunk) => {
    output += chunk;
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
