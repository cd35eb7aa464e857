import { resolve } from "node:path";
import { readSandboxConfig, type SandboxConfig } from "../sandbox/config.ts";
import { readPort } from "../sandbox/ports.ts";
import { readBillmgrConfig, readServiceConfig, readWatcherConfig } from "../shared/config.ts";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * A setting the user must change before a local command can run. Its lines are meant to be printed
 * as they are, one each, without a stack trace: they name the variable, and nothing in the code is wrong.
 */
export class SettingError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
    this.name = "SettingError";
  }
}

/** What `npm start`, `npm run watcher` and the sandbox they may start are told by the environment. */
export interface LocalSettings {
  dataDir: string;
  dynamoPort: number;
  sandbox: SandboxConfig;
}

export function readLocalSettings(env: Env): LocalSettings {
  const errors: string[] = [];
  const dynamoPort = readPort(env, "DYNAMODB_PORT", 8000, errors);
  // The same reader as `npm run sandbox`, so SANDBOX_BALANCE and the rest mean the same in both.
  const sandbox = readSandboxConfig(env);
  if (!sandbox.ok) errors.push(...sandbox.errors);
  if (errors.length > 0 || dynamoPort === undefined || !sandbox.ok) throw new SettingError(errors);
  return { dataDir: resolve(env.DATA_DIR || ".local"), dynamoPort, sandbox: sandbox.config };
}

/** `npm start`'s own settings: the API's port and how often the reconciler runs. */
export interface ApiSettings {
  port: number;
  reconcileEverySeconds: number;
}

export function readApiSettings(env: Env): ApiSettings {
  const errors: string[] = [];
  const port = readPort(env, "PORT", 3000, errors);
  const every = env.RECONCILE_EVERY_SECONDS?.trim() || "60";
  if (!/^\d{1,6}$/.test(every) || Number(every) < 1)
    errors.push(`RECONCILE_EVERY_SECONDS must be a whole number of seconds, at least 1, got "${every}"`);
  if (errors.length > 0 || port === undefined) throw new SettingError(errors);
  return { port, reconcileEverySeconds: Number(every) };
}

/**
 * The functions' own settings, checked against the very environment they will be given, before they
 * are loaded: loading them with a bad one would fail with a stack trace instead of a line.
 */
export function checkFunctionSettings(env: Env): void {
  const errors: string[] = [];
  for (const read of [readServiceConfig, readBillmgrConfig, readWatcherConfig]) {
    try {
      read({ ...env });
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  if (errors.length > 0) throw new SettingError(errors);
}
