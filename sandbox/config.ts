import { parseInstant } from "../shared/domain/dates.ts";
import { DEFAULT_CREDENTIALS, splitCredentials } from "./auth.ts";
import { readPort } from "./ports.ts";

export const DEFAULT_SANDBOX_PORT = 8089;
export const DEFAULT_SANDBOX_HOST = "127.0.0.1";

export interface SandboxConfig {
  port: number;
  host: string;
  credentials: string;
  user: string;
  now?: Date;
  balanceMinor?: number;
}

export type ConfigResult = { ok: true; config: SandboxConfig } | { ok: false; errors: string[] };

/** "1000", "12.5", "0.99" in major units to minor units, without floating-point rounding. */
function majorToMinor(text: string): number | undefined {
  const m = /^(\d{1,13})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * 100 + Number((m[2] ?? "").padEnd(2, "0"));
}

/**
 * Reads the sandbox's environment (`npm run sandbox`, and `npm start` for the sandbox it runs).
 * Messages never repeat SANDBOX_CREDENTIALS: it holds a password.
 */
export function readSandboxConfig(env: Readonly<Record<string, string | undefined>>): ConfigResult {
  const errors: string[] = [];

  const port = readPort(env, "SANDBOX_PORT", DEFAULT_SANDBOX_PORT, errors);

  const host = env.SANDBOX_HOST?.trim() || DEFAULT_SANDBOX_HOST;

  const credentials = env.SANDBOX_CREDENTIALS || DEFAULT_CREDENTIALS;
  const parts = splitCredentials(credentials);
  if (!parts || parts.user === "" || parts.password === "") {
    errors.push("SANDBOX_CREDENTIALS must be user:password, both parts non-empty (value not shown)");
  }

  let now: Date | undefined;
  if (env.NOW?.trim()) {
    now = parseInstant(env.NOW.trim());
    if (!now)
      errors.push(
        `NOW must be an ISO date or date-time such as 2021-05-01 or 2021-05-01T02:00:00Z, got "${env.NOW}"`,
      );
  }

  let balanceMinor: number | undefined;
  if (env.SANDBOX_BALANCE?.trim()) {
    balanceMinor = majorToMinor(env.SANDBOX_BALANCE);
    if (balanceMinor === undefined) {
      errors.push(
        `SANDBOX_BALANCE must be an amount in EUR such as 1000 or 250.50, got "${env.SANDBOX_BALANCE}"`,
      );
    }
  }

  if (errors.length > 0 || !parts || port === undefined) return { ok: false, errors };
  return {
    ok: true,
    config: {
      port,
      host,
      credentials,
      user: parts.user,
      ...(now ? { now } : {}),
      ...(balanceMinor === undefined ? {} : { balanceMinor }),
    },
  };
}
