/**
 * One place that knows every secret this process holds and scrubs it from text.
 * Credentials providers register what they load; errors and log lines pass through
 * `redact` before anyone can print them.
 */
const secrets = new Set<string>();
const MASK = "[redacted]";

/** Registers a secret and the forms it takes on the wire (URL and form encoding). */
export function registerSecret(secret: string): void {
  if (secret.length < 4) return; // too short to scrub without shredding ordinary text
  for (const form of [
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
  ]) {
    secrets.add(form);
  }
}

export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(MASK);
  }
  return out;
}

/**
 * A redacted copy of an error's message, and of its causes, so that neither
 * `error.message`, `String(error)`, nor `util.inspect(error)` can show a secret.
 */
export function redactError<E extends Error>(error: E): E {
  error.message = redact(error.message);
  if (error.stack) error.stack = redact(error.stack);
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) redactError(cause);
  return error;
}
