import { canonicalIp } from "../ip.ts";
import type { IntentRef } from "../ports/intent-store.ts";
import type { DeskContext } from "./context.ts";
import { OrderInFlightError } from "./errors.ts";
import { intentIsOver } from "./licence-hold.ts";

/**
 * An IP's order slot: the vendor keeps one live licence per IP and product line, so one order in
 * flight per IP and line gives an unanswered order's evidence one owner (two keys ordering one IP, both
 * unanswered, can no longer take each other's licence).
 */
export const orderSlot = (generation: string, ip: string) => `${generation}#${canonicalIp(ip) ?? ip}`;

/**
 * Takes the slot for `ref`, clearing a holder that is over first; refused with nothing sent
 * (`OrderInFlightError`) while another order of that IP and line runs or awaits its outcome.
 */
export async function holdForOrder(
  ctx: DeskContext,
  slot: string,
  ip: string,
  ref: IntentRef,
): Promise<void> {
  const store = ctx.register.idempotency;
  for (let attempt = 0; attempt < 2; attempt++) {
    const hold = await store.holdOrder(slot, ref);
    if (hold.held) return;
    if (!(await intentIsOver(ctx, hold.owner))) throw new OrderInFlightError(ip);
    await store.freeOrder(slot, hold.owner);
  }
  throw new OrderInFlightError(ip);
}
