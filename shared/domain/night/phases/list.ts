import { redact } from "../../../redact.ts";
import { alerts } from "../../alerts/alerts.ts";
import type { LicenceList } from "../../ports/billing.ts";
import type { NightRun } from "./run.ts";
import { sendPhase } from "./send.ts";

/** The vendor's list could not be read: nothing was synced or renewed. */
export class VendorUnreachableError extends Error {
  override readonly name = "VendorUnreachableError";
}

/**
 * The vendor's whole list. Without it nothing else is safe to do: say so once (and send what earlier
 * runs left pending), and fail loudly so the schedule retries. A list read but not provably complete
 * is the sync's to handle (it marks nothing gone from it).
 */
export async function listPhase(run: NightRun): Promise<LicenceList> {
  try {
    run.listedAtMs = run.nowMs();
    return await run.deps.billing.list();
  } catch (error) {
    const reason = redact(error instanceof Error ? error.message : String(error));
    await run.raise([alerts.vendorUnreachable(run.night, reason)]);
    await sendPhase(run);
    throw new VendorUnreachableError(
      `night ${run.night}: the vendor's licence list could not be read: ${reason}`,
      { cause: error },
    );
  }
}
