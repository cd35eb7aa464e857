/** undici's internal modules (no declarations of their own), typed with what "undici" exports. */
declare module "undici/lib/dispatcher/agent.js" {
  import { Agent } from "undici";
  export default Agent;
}

declare module "undici/lib/api/index.js" {
  import type { Dispatcher } from "undici";
  /** The method form: `this` is the dispatcher (only its `dispatch` is used), `options` carry `origin` and `path`. */
  export function request(
    this: Pick<Dispatcher, "dispatch">,
    options: Dispatcher.RequestOptions,
  ): Promise<Dispatcher.ResponseData>;
}
