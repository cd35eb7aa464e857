import { registerSecret } from "../../redact.ts";

export interface Credentials {
  user: string;
  password: string;
}

/** Where the vendor credentials come from: SSM in AWS, the environment locally. */
export interface CredentialsProvider {
  get(): Promise<Credentials>;
  /** Forget any cached value, so the next `get` reads the source again (after a password rotation). */
  refresh(): void;
}

/** `user:password`; the password may itself contain colons. Never echoes the value. */
export function parseCredentials(value: string, source: string): Credentials {
  const colon = value.indexOf(":");
  if (colon <= 0 || colon === value.length - 1) {
    throw new Error(`${source} must hold "user:password" (the value is not shown)`);
  }
  const credentials = { user: value.slice(0, colon), password: value.slice(colon + 1) };
  registerSecret(credentials.password);
  registerSecret(value);
  return credentials;
}

/** Credentials given directly (BILLMGR_CREDENTIALS locally). */
export function staticCredentials(value: string, source = "BILLMGR_CREDENTIALS"): CredentialsProvider {
  const credentials = parseCredentials(value, source);
  return { get: async () => credentials, refresh: () => {} };
}
