import type { LicenceRecord } from "../../register/types.ts";
import { alerts } from "../alerts.ts";
import { decideRenewal, isLive, type Renewal, renewalCost, renewalNight } from "../plan.ts";
import type { NightRun } from "./run.ts";

export interface Planned {
  licence: LicenceRecord;
  renewal: Renewal;
}

/**
 * What to renew tonight, from the synced register (each is decided again from a fresh read right
 * before it is renewed), and whether the balance covers what is due this week.
 */
export async function decidePhase(run: NightRun, records: Map<string, LicenceRecord>): Promise<Planned[]> {
  const { settings } = run.deps;
  const live = [...records.values()].filter(isLive);
  const planned: Planned[] = [];
  for (const licence of live) {
    const decision = decideRenewal(licence, run.productOf(licence), run.night, settings);
    if (decision.action === "renew") planned.push({ licence, renewal: decision.renewal });
  }
  await forecastBalance(run, live);
  return planned;
}

async function forecastBalance(run: NightRun, live: LicenceRecord[]): Promise<void> {
  const { settings, billing } = run.deps;
  const dueThisWeek: string[] = [];
  let dueMinor = 0;
  for (const licence of live) {
    const product = run.productOf(licence);
    if (!product) continue;
    const next = renewalNight(licence, product, run.night, settings, settings.balanceForecastDays);
    if (!next) continue;
    const cost = renewalCost(product, next.renewal.period, licence.nodes);
    dueMinor += cost;
    dueThisWeek.push(
      `${next.night}: ${licence.name} (id ${licence.id}), ${next.renewal.period} month(s), ${(cost / 100).toFixed(2)}`,
    );
  }
  if (dueMinor === 0) return;
  let balance: Awaited<ReturnType<typeof billing.balance>>;
  try {
    balance = await billing.balance();
  } catch {
    return; // no balance reported: nothing to forecast against
  }
  if (balance && balance.minor < dueMinor) {
    await run.raise([
      alerts.lowBalance(run.night, balance, dueMinor, dueThisWeek, settings.balanceForecastDays),
    ]);
  }
}
