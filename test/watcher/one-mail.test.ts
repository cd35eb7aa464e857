import { afterEach, describe, expect, it } from "vitest";
import { arrayNotifier, fleetLicence, type WatchHarness, watchHarness } from "../support/watcher.ts";

/**
 * One event, one mail: a licence that stops on its product's last day is told it in that night's
 * lifecycle mail, with no expiry mail of its own about the same end; on a night without one, its expiry
 * mail comes as usual.
 */
let h: WatchHarness;
afterEach(() => h.close());

describe("an expiry on the product's last day", () => {
  it("is told in the lifecycle mail of a night that sends one, and in its own mail on the other nights", async () => {
    const notifier = arrayNotifier();
    h = await watchHarness({ now: "2021-12-20", notifier, tablePrefix: "one-mail" });
    const id = await h.seed(fleetLicence({ name: "last-day", ip: "82.156.97.1", expiredate: "2021-12-31" }));
    // 7 days before 2021-12-31: both the lifecycle mail's threshold and the expiry mail's.
    await h.run("2021-12-24");
    const tonight = notifier.sent.filter((a) => a.night === "2021-12-24");
    const lifecycle = tonight.filter((a) => a.kind === "lifecycle");
    expect(lifecycle).toHaveLength(1);
    expect(lifecycle[0]?.body).toContain(`last-day (id ${id}, 82.156.97.1): `);
    expect(tonight.filter((a) => a.kind === "expiry")).toEqual([]);
    // A rerun of the night (a continuation) tells it no more than the first run did.
    await h.run("2021-12-24");
    expect(notifier.sent.filter((a) => a.night === "2021-12-24")).toHaveLength(tonight.length);
    // 3 days before: no lifecycle mail that night, so the expiry mail says it.
    await h.run("2021-12-28");
    const later = notifier.sent.filter((a) => a.night === "2021-12-28");
    expect(later.filter((a) => a.kind === "lifecycle")).toEqual([]);
    expect(later.filter((a) => a.kind === "expiry").map((a) => a.licenceId)).toEqual([id]);
  });
});
