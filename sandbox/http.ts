import type { IncomingMessage, ServerResponse } from "node:http";

/** A vendor call or a control request is small; anything bigger is a mistake or an attack. */
export const MAX_BODY_BYTES = 1024 * 1024;

export class BodyTooLarge extends Error {
  override readonly name = "BodyTooLarge";
}

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLarge(`body larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  if (status === 204) {
    res.writeHead(204).end();
    return;
  }
  send(res, status, "application/json; charset=utf-8", `${JSON.stringify(value)}\n`);
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

/**
 * Form parameters, the body's over the query string's. Built with `Object.fromEntries`, so a
 * parameter named `__proto__` is just a parameter.
 */
export function formParams(query: URLSearchParams, body: string | undefined): Record<string, string> {
  const merged = new Map<string, string>(query);
  if (body) for (const [key, value] of new URLSearchParams(body)) merged.set(key, value);
  return Object.fromEntries(merged);
}

/**
 * Sends `body` `chunkBytes` at a time with a wait between chunks: headers (with the full
 * Content-Length) and the first chunk at once, so no header or idle timeout fires, while the whole
 * answer takes (chunks - 1) waits. Stops when the client leaves or `wait` says the sandbox closed.
 */
export async function sendTrickle(
  res: ServerResponse,
  contentType: string,
  body: string,
  chunkBytes: number,
  wait: () => Promise<boolean>,
): Promise<void> {
  if (res.headersSent || res.destroyed) return;
  const bytes = Buffer.from(body, "utf8");
  res.writeHead(200, { "content-type": contentType, "content-length": bytes.length });
  for (let start = 0; start < bytes.length; start += chunkBytes) {
    if (start > 0 && !(await wait())) return;
    if (res.destroyed) return;
    res.write(bytes.subarray(start, start + chunkBytes));
  }
  res.end();
}
