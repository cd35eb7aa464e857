/**
 * Port settings and what to say when a port cannot be had, for `npm run sandbox` and `npm start`.
 * Ports are no secret, so a bad value is shown back to whoever set it.
 */

/** The port named by `variable`, or the fallback; a bad value is added to `errors` and gives undefined. */
export function readPort(
  env: Readonly<Record<string, string | undefined>>,
  variable: string,
  fallback: number,
  errors: string[],
): number | undefined {
  const text = env[variable]?.trim() || String(fallback);
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (port >= 0 && port <= 65535) return port;
  errors.push(`${variable} must be a port number from 0 to 65535 (0 picks a free one), got "${text}"`);
  return undefined;
}

/**
 * One line for a server that could not listen on a port it was told to use, naming the variable
 * to change; undefined for any other failure (a bug, to be shown whole).
 */
export function listenFailure(
  error: unknown,
  port: number,
  what: string,
  variable: string,
): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EADDRINUSE") return `port ${port} for ${what} is in use; set ${variable} to a free port`;
  if (code === "EACCES")
    return `port ${port} for ${what} needs privileges this user lacks; set ${variable} to a port above 1023`;
  return undefined;
}
