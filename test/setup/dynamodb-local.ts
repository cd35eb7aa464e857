import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

/**
 * vitest globalSetup: starts AWS's own DynamoDB Local (the jar inside the `amplify-dynamodb-simulator`
 * devDependency) in memory on a free port, once per run, and gives tests its URL as
 * `inject("dynamodbEndpoint")`. Each test file creates its own table (`freshTable`), so files run in
 * parallel on the one engine. `TEST_DYNAMODB_ENDPOINT` set to a URL uses that engine instead of starting one
 * (named apart from the app's `DYNAMODB_ENDPOINT`, so a local server's setting never redirects the tests).
 * Java's temporary files (sqlite4java unpacks its native library, `sqlite-*-libsqlite4java.so`, there at
 * every start and never removes it) go to a directory of the engine's own under the run's, removed when
 * the engine stops.
 */
declare module "vitest" {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
  }
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const EMULATOR = join(ROOT, "node_modules", "amplify-dynamodb-simulator", "emulator");
const START_TIMEOUT_MS = 60_000;
/** Attempts with a new port, in case another process takes the free port before Java binds it. */
const PORT_ATTEMPTS = 3;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.TEST_DYNAMODB_ENDPOINT;
  if (external) {
    project.provide("dynamodbEndpoint", external);
    return async () => {};
  }
  const local = await startDynamoDbLocal();
  project.provide("dynamodbEndpoint", local.endpoint);
  return local.stop;
}

export interface DynamoDbLocal {
  endpoint: string;
  /** Milliseconds from spawning Java to the first ListTables answer. */
  startMs: number;
  stop: () => Promise<void>;
}

export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  const jar = join(EMULATOR, "DynamoDBLocal.jar");
  if (!existsSync(jar))
    throw new Error(
      `DynamoDB Local not found at ${jar}: run npm ci (devDependency amplify-dynamodb-simulator)`,
    );
  let lastError: unknown;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    try {
      return await startOnce(jar, await freePort());
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortInUseError)) throw error;
    }
  }
  throw lastError;
}

class PortInUseError extends Error {}

async function startOnce(jar: string, port: number): Promise<DynamoDbLocal> {
  const started = performance.now();
  const javaTmp = mkdtempSync(join(tmpdir(), "dynamodb-local-"));
  const java = spawn(
    "java",
    [
      // Faster start for a short-lived test engine: C1 compiler only, and the simple collector.
      "-XX:TieredStopAtLevel=1",
      "-XX:+UseSerialGC",
      `-Djava.library.path=${join(EMULATOR, "DynamoDBLocal_lib")}`,
      `-Djava.io.tmpdir=${javaTmp}`,
      "-jar",
      jar,
      "-inMemory",
      // One database for every client, whatever region and access key it signs with (without it, a table
      // created with one set of dummy credentials is invisible to a client with another).
      "-sharedDb",
      "-port",
      String(port),
      "-disableTelemetry",
    ],
    { cwd: EMULATOR, stdio: ["ignore", "pipe", "pipe"] },
  );
  const output = tail(java);
  const killOnExit = () => {
    java.kill("SIGKILL");
    rmSync(javaTmp, { recursive: true, force: true });
  };
  process.once("exit", killOnExit);

  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    process.removeListener("exit", killOnExit);
    await kill(java);
    rmSync(javaTmp, { recursive: true, force: true });
  };

  let exited: string | undefined;
  java.once("close", (code, signal) => {
    exited ??= `exited with ${signal ?? `code ${code}`}`;
  });
  java.once("error", (error) => {
    exited = `could not start java: ${error.message}`;
  });

  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      // After a failed bind Java prints the exception but keeps running: look for it, not for an exit.
      if (/Failed to bind|BindException/.test(output()))
        throw new PortInUseError(`DynamoDB Local: port ${port} was taken before it could bind it`);
      if (exited !== undefined)
        throw new Error(`DynamoDB Local ${exited} before answering. Java's output ends with:\n${output()}`);
      if (await answersListTables(endpoint)) break;
      if (Date.now() > deadline)
        throw new Error(
          `DynamoDB Local did not answer ListTables on ${endpoint} within ${START_TIMEOUT_MS / 1000} s. ` +
            `Java's output ends with:\n${output()}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, startMs: Math.round(performance.now() - started), stop };
}

/**
 * One ListTables call. Plain HTTP rather than the SDK: loading the SDK into vitest's main process costs
 * about 2.5 s. DynamoDB Local wants an Authorization header but does not check the signature.
 */
async function answersListTables(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "DynamoDB_20120810.ListTables",
        authorization:
          "AWS4-HMAC-SHA256 Credential=local/20200101/local/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
      },
      body: "{}",
      signal: AbortSignal.timeout(2_000),
    });
    const body = (await response.json()) as { TableNames?: unknown };
    return response.ok && Array.isArray(body.TableNames);
  } catch {
    return false;
  }
}

/** A port that was free a moment ago (the OS picks it for a throwaway server). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    // All interfaces, as DynamoDB Local binds them (it has no option to bind loopback only).
    server.listen(0, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

/** Keeps the last few KB of the process's stdout and stderr (and drains both, so Java never blocks). */
function tail(child: ChildProcess, maxChars = 4_000): () => string {
  let text = "";
  const keep = (chunk: Buffer) => {
    text = (text + chunk.toString("utf8")).slice(-maxChars);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return () => text.trim() || "(nothing)";
}

/** In memory, nothing to flush: kill at once (SIGTERM costs DynamoDB Local about 0.3 s). */
async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  await gone;
}
