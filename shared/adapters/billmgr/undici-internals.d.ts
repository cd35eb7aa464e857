/** undici's internal modules (no declarations of their own), typed with what "undici" exports. */
declare module "undici/lib/dispatcher/agent.js" {
  import { Agent } from "undici";
  export default Agent;
}
