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

export type RequestOptions = Omit<Dispatcher.RequestOptions, "origin" | "path"> & {
  dispatcher: Dispatcher;
  /**
   * Called once undici is about to write the request to a socket (after queueing and connecting), unless
   * `signal` aborted it first. Until then nothing has left this process, whatever else went wrong.
   */
  onWriting?: () => void;
};

export function request(url: string | URL, options: RequestOptions): Promise<Dispatcher.ResponseData> {
  const target = new URL(url);
  const { dispatcher, onWriting, ...rest } = options;
  const via = onWriting ? watchWriting(dispatcher, onWriting, rest.signal) : dispatcher;
  return dispatcherRequest.call(via, {
    ...rest,
    origin: target.origin,
    path: `${target.pathname}${target.search}`,
    method: rest.method ?? "GET",
  } as Dispatcher.RequestOptions);
}

/**
 * undici gives a handler `onConnect` (or `onRequestStart` in its newer handler form) right before it writes
 * the request, on a fresh or a reused connection; a request aborted earlier is dropped without a byte sent.
 * Both are watched, so a change of handler form in undici cannot hide a request that was written.
 */
function watchWriting(
  dispatcher: Dispatcher,
  onWriting: () => void,
  signal: RequestOptions["signal"],
): Pick<Dispatcher, "dispatch"> {
  const aborted = () => (signal as { aborted?: boolean } | undefined)?.aborted === true;
  return {
    dispatch(opts, handler) {
      const watched = new Proxy(handler, {
        get(target, key) {
          const value: unknown = Reflect.get(target, key);
          if (typeof value !== "function") return value;
          if (key === "onConnect" || key === "onRequestStart") {
            return (...args: unknown[]) => {
              if (!aborted()) onWriting();
              return value.apply(target, args);
            };
          }
          // Bound, so the handler's own state and its abort listener keep seeing one object.
          return value.bind(target);
        },
      });
      return dispatcher.dispatch(opts, watched);
    },
  };
}
