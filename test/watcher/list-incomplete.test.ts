import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from "vitest";
import type { NightReport } from "../../shared/domain/night/night.ts";
import { arrayNotifier, fleetLicence, type WatchHarness, watchHarness } from "../support/watcher.ts";

/**
 * "Gone" only from a complete list: a licence missing from a list that could not be proven whole may
 * still be at the vendor. The night still creates and updates what it saw, says why on its report and
 * in one WARN line, and marks the truly gone licence the first night the list is whole again.
 */
describe("a vendor list not proven complete", () => {
  let h: WatchHarness;
  const notifier = arrayNotifier();
  let logged: MockInstance<typeof console.error>;
  const id = { kept: "", purged: "", seenFirst: "", newAtVendor: "" };
  let night1: NightReport;
  /** The WARN lines night 1 logged. */
  let warned1: unknown[] = [];

  beforeAll(async () => {
    // Two licences a page: the vendor's first page holds a licence new to the register and one it has.
    h = await watchHarness({ now: "2021-05-01", notifier, clientEnv: { BILLMGR_PAGE_SIZE: "2" } });
    const quiet = (name: string, ip: string) => fleetLicence({ name, ip, expiredate: "2021-09-01" });
    id.newAtVendor = h.seedVendorOnly(quiet("new-at-vendor", "82.156.40.1"));
    id.seenFirst = await h.seed(quiet("seen-first", "82.156.40.2"));
    id.kept = await h.seed(quiet("kept", "82.156.40.3"));
    id.purged = await h.seed(quiet("purged", "82.156.40.4"));
    // Purged from the vendor's book, and a vendor that serves its first page for every p_num.
    expect(h.vendor.sandbox.state.vanish(id.purged)).toBe(true);
    await h.vendor.quirks({ ignorePageNumber: true });
    logged = vi.spyOn(console, "error");
    night1 = await h.run("2021-05-01");
    warned1 = warnings();
    logged.mockClear();
  });
  afterAll(async () => {
    logged.mockRestore();
    await h.close();
  });

  function warnings(): unknown[] {
    return logged.mock.calls
      .map(([line]) => (typeof line === "string" && line.startsWith("{") ? JSON.parse(line) : undefined))
      .filter((line) => line?.level === "WARN");
  }

  it("marks nothing gone, neither the licence still there nor the purged one", async () => {
    expect((await h.record(id.kept))?.goneSince).toBeUndefined();
    expect((await h.record(id.purged))?.goneSince).toBeUndefined();
    expect(night1.sync).toMatchObject({ listed: 2, added: 1, gone: 0 });
    expect(notifier.sent.filter((a) => a.kind === "vendor_deleted")).toEqual([]);
  });

  it("still creates the licences it saw", async () => {
    expect(await h.record(id.newAtVendor)).toMatchObject({ name: "new-at-vendor", status: "active" });
  });

  it("says why on the night's report and in one WARN line", () => {
    const why = `page 2 of the vendor's list repeats licence ${id.newAtVendor} of an earlier page: the vendor ignores p_num, or its pages shifted while the list was read`;
    expect(night1.listIncomplete).toBe(why);
    expect(warned1).toEqual([
      {
        level: "WARN",
        message:
          "the vendor's licence list could not be proven complete: licences missing from it are not marked gone tonight; the next night reads it again",
        night: "2021-05-01",
        listed: 2,
        reason: why,
      },
    ]);
  });

  it("the next night with a whole list marks only the purged licence gone, and says nothing of the list", async () => {
    await h.vendor.quirks({ ignorePageNumber: false });
    const night2 = await h.run("2021-05-02");
    expect(night2.listIncomplete).toBeUndefined();
    expect(warnings()).toEqual([]);
    expect(night2.sync).toMatchObject({ listed: 3, gone: 1 });
    expect((await h.record(id.purged))?.goneSince).toBe("2021-05-02");
    expect((await h.record(id.kept))?.goneSince).toBeUndefined();
    expect(notifier.sent.filter((a) => a.kind === "vendor_deleted").map((a) => a.licenceId)).toEqual([
      id.purged,
    ]);
  });
});
