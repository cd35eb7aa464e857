import type { Dispatcher } from "undici";
import { request as dispatcherRequest } from "undici/lib/api/index.js";
import Agent from "undici/lib/dispatcher/agent.js";

export type { Dispatcher };
/**
 * undici's Agent and `request(url, options)` from its internal modules, skipping the package entry
 * (fetch, WebSocket, cache stores, mocks): about 230 KB less in every vendor bundle and a quarter off
 * its cold start (`npm run bench`). The package's `request` is `api.request` bound to the dispatcher
 * with `origin` and `path` taken from the URL; this does the same for the one form the transport uses.
 * These paths are undici's internals, so package.json pins undici to one minor version and the
 * client suite exercises every call through them.
 */
export { Agent };

export function request(
  url: string | URL,
  options: Omit<Dispatcher.RequestOptions, "origin" | "path"> & { dispatcher: Dispatcher },
): Promise<Dispatcher.ResponseData> {
  const target = new URL(url);
  const { dispatcher, ...rest } = options;
  return dispatcherRequest.call(dispatcher, {
    ...rest,
    origin: target.origin,
    path: `${target.pathname}${target.search}`,
    method: rest.method ?? "GET",
  } as Dispatcher.RequestOptions);
}
