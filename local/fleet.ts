import type { Sandbox } from "../sandbox/server.ts";
import type { Licence, SeedInput } from "../sandbox/state.ts";
import { loadCatalogue } from "../shared/domain/catalogue/catalogue.ts";
import type { IsoDate } from "../shared/domain/dates.ts";
import type { PlannedSuccessorInput } from "../shared/domain/licences/inputs.ts";
import type { AutoRenew, LicenceRecord } from "../shared/domain/ports/licence-store.ts";
import type { Register } from "../shared/domain/ports/register.ts";

/**
 * A reseller's fleet through 2021, covering every case the watcher must handle, and what the vendor
 * does to it along the way. `npm run replay` and the watcher's calendar test both use it.
 */
export interface FleetLicence {
  name: string;
  ip: string;
  pricelist: "3541" | "4601";
  nodes?: number;
  period: 1 | 12;
  createdate: IsoDate;
  expiredate: IsoDate;
  autoRenew: AutoRenew;
  /** What the case shows. */
  case: string;
}

export const fleet: FleetLicence[] = [
  {
    name: "lts-auto",
    ip: "82.156.37.11",
    pricelist: "3541",
    period: 1,
    createdate: "2021-03-01",
    expiredate: "2021-04-01",
    autoRenew: 1,
    case: "bought before 2021-04-08, autoRenew: monthly renewals, then to 2021-12-31 before the close",
  },
  {
    name: "lts-manual",
    ip: "82.156.37.12",
    pricelist: "3541",
    period: 12,
    createdate: "2020-05-20",
    expiredate: "2021-05-20",
    autoRenew: null,
    case: "bought before 2021-04-08, no autoRenew: warned, expires, suspended, deleted by the vendor",
  },
  {
    name: "window-auto",
    ip: "82.156.37.13",
    pricelist: "3541",
    period: 1,
    createdate: "2021-04-20",
    expiredate: "2021-05-20",
    autoRenew: 1,
    case: "bought in the window: renewed straight to 2021-12-31",
  },
  {
    name: "cluster",
    ip: "82.156.37.14",
    pricelist: "4601",
    nodes: 3,
    period: 1,
    createdate: "2021-03-10",
    expiredate: "2021-06-10",
    autoRenew: 1,
    case: "Business with 3 nodes: its renewal fails on a low balance, and succeeds the next night",
  },
  {
    name: "before-close",
    ip: "82.156.37.15",
    pricelist: "3541",
    period: 1,
    createdate: "2021-05-14",
    expiredate: "2021-06-14",
    autoRenew: 1,
    case: "expires just before 2021-06-15: renewed on its normal night",
  },
  {
    name: "after-close",
    ip: "82.156.37.16",
    pricelist: "3541",
    period: 1,
    createdate: "2021-05-20",
    expiredate: "2021-06-20",
    autoRenew: 1,
    case: "expires just after 2021-06-15: renewed early, before the close",
  },
  {
    name: "lts-long",
    ip: "82.156.37.17",
    pricelist: "4601",
    nodes: 1,
    period: 12,
    createdate: "2021-03-01",
    expiredate: "2022-03-01",
    autoRenew: 12,
    case: "bought before 2021-04-08 for a year: cannot be renewed after the close, ends 2022-03-01",
  },
  {
    name: "suspended-upstream",
    ip: "82.156.37.18",
    pricelist: "3541",
    period: 12,
    createdate: "2021-04-01",
    expiredate: "2022-04-01",
    autoRenew: null,
    case: "suspended by the vendor on 2021-07-01",
  },
  {
    name: "deleted-upstream",
    ip: "82.156.37.19",
    pricelist: "3541",
    period: 12,
    createdate: "2021-04-02",
    expiredate: "2022-04-02",
    autoRenew: null,
    case: "deleted by the vendor on 2021-08-02, then gone from its list",
  },
];

/** The vendor's own doings, each before that night's run. */
export const vendorEvents: Array<{
  on: IsoDate;
  what: string;
  act: (sandbox: Sandbox) => void;
  /** What the event adds to the vendor balance, so the replay's closing balance is explained. */
  topUpMinor?: number;
}> = [
  {
    on: "2021-06-08",
    what: "the reseller tops up the vendor balance by 500.00 EUR",
    act: (s) => s.state.setBalance(s.state.balanceMinor + 50_000),
    topUpMinor: 50_000,
  },
  {
    on: "2021-07-01",
    what: "the vendor suspends suspended-upstream",
    act: (s) => s.state.suspend(idOf(s, "suspended-upstream")),
  },
  {
    on: "2021-08-02",
    what: "the vendor deletes deleted-upstream",
    act: (s) => s.state.delete(idOf(s, "deleted-upstream")),
  },
  {
    on: "2021-09-01",
    what: "deleted-upstream disappears from the vendor's list",
    act: (s) => s.state.vanish(idOf(s, "deleted-upstream")),
  },
];

/** What the reseller does through the desk (as its API would), before that night's run. */
export interface ResellerDesk {
  update(id: string, body: { successor: PlannedSuccessorInput }): Promise<unknown>;
  successor(
    id: string,
    body: { period: 1 | 12; retireOld: "after_expiry" | "now" | "never" },
    key: string,
  ): Promise<{ outcome: string }>;
}

/**
 * The move to ISPmanager 6 before 2021-12-31: most licences planned for the watcher to order (14 days
 * before they stop working, lts-long earlier, as its support ends with the year), one ordered by hand and
 * retired after its expiry, one ordered by hand and retired at once; and the money for it.
 */
export const resellerEvents: Array<{
  on: IsoDate;
  what: string;
  act: (desk: ResellerDesk, sandbox: Sandbox) => Promise<void>;
  topUpMinor?: number;
}> = [
  {
    on: "2021-09-01",
    what: "the reseller plans ISPmanager 6 successors for lts-auto, window-auto and cluster (PATCH successor, 12 months) and for lts-long on 2021-12-01",
    act: async (desk, s) => {
      for (const name of ["lts-auto", "window-auto", "cluster"])
        await desk.update(idOf(s, name), { successor: { period: 12, retireOld: "after_expiry" } });
      await desk.update(idOf(s, "lts-long"), {
        successor: { period: 12, on: "2021-12-01", retireOld: "after_expiry" },
      });
    },
  },
  {
    on: "2021-10-04",
    what: "the reseller orders after-close's successor by hand (POST /licenses/{id}/successor, retired after its expiry)",
    act: async (desk, s) => {
      const answer = await desk.successor(
        idOf(s, "after-close"),
        { period: 12, retireOld: "after_expiry" },
        "move-after-close",
      );
      if (answer.outcome !== "applied") throw new Error("after-close's successor was not placed");
    },
  },
  {
    on: "2021-11-02",
    what: 'the reseller orders before-close\'s successor by hand, retiring before-close at once (retireOld: "now")',
    act: async (desk, s) => {
      const answer = await desk.successor(
        idOf(s, "before-close"),
        { period: 12, retireOld: "now" },
        "move-before-close",
      );
      if (answer.outcome !== "applied") throw new Error("before-close's successor was not placed");
    },
  },
  {
    on: "2021-11-29",
    what: "the reseller tops up the vendor balance by 500.00 EUR for the planned successors",
    act: async (_desk, s) => s.state.setBalance(s.state.balanceMinor + 50_000),
    topUpMinor: 50_000,
  },
];

/** The fleet's opening balance: enough until the Business renewal on 2021-06-07, not for it. */
export const OPENING_BALANCE_MINOR = 30_000;

function idOf(sandbox: Sandbox, name: string): string {
  const licence = sandbox.state.list().find((l) => l.licname === name);
  if (!licence) throw new Error(`no fleet licence ${name}`);
  return licence.id;
}

/** What the vendor books for a fleet licence (directly, no charge). */
export function seedInput(licence: Omit<FleetLicence, "case">): SeedInput {
  return {
    licname: licence.name,
    ip: licence.ip,
    pricelist: licence.pricelist,
    nodes: licence.nodes ?? null,
    period: licence.period,
    createdate: licence.createdate,
    expiredate: licence.expiredate,
  };
}

const catalogue = loadCatalogue();

/** The register's record of a fleet licence, as if it had been ordered through the API. */
export function registerRecord(
  licence: Pick<FleetLicence, "createdate" | "autoRenew">,
  seeded: Licence,
): LicenceRecord {
  const at = `${licence.createdate}T12:00:00.000Z`;
  return {
    id: seeded.id,
    name: seeded.licname,
    ip: seeded.ip,
    product: catalogue.byPricelist(seeded.pricelist)?.id,
    pricelist: seeded.pricelist,
    period: seeded.period,
    nodes: seeded.nodes ?? undefined,
    status: "active",
    statusCode: seeded.status,
    expiresOn: seeded.expiredate,
    createdOn: seeded.createdate,
    key: seeded.key || undefined,
    autoRenew: licence.autoRenew,
    syncedAt: at,
    updatedAt: at,
  };
}

/** A fleet licence as the vendor books it (no charge) and as our register records it. */
export async function seedLicence(
  sandbox: Sandbox,
  register: Register,
  licence: FleetLicence,
): Promise<string> {
  const seeded = sandbox.state.seed(seedInput(licence));
  await register.licences.put(registerRecord(licence, seeded));
  return seeded.id;
}
