import { describe, expect, it } from "vitest";
import { planSync } from "../../shared/domain/night/sync/plan.ts";
import type { LicenceSummary } from "../../shared/domain/ports/billing.ts";
import type { LicenceRecord } from "../../shared/domain/ports/licence-store.ts";
import { licenceRecord } from "../support/fixtures.ts";

/**
 * The sync's plan, from the vendor's list and the register alone: which forms are read (only new,
 * changed and keyless licences cost a vendor read), how many listed licences need nothing, and which
 * licences are marked gone (only from a list provably complete).
 */
const row = (id: string, overrides: Partial<LicenceSummary> = {}): LicenceSummary => ({
  id,
  name: `web-${id}`,
  ip: `82.156.60.${id}`,
  pricelist: "3541",
  period: 1,
  status: "active",
  statusCode: "2",
  expiresOn: "2021-06-16",
  createdOn: "2021-05-16",
  keyChangedOn: undefined,
  ...overrides,
});

/** The register's record of what `row` lists, as the last sync wrote it. */
const record = (id: string, overrides: Partial<LicenceRecord> = {}): LicenceRecord =>
  licenceRecord({
    id,
    ip: `82.156.60.${id}`,
    syncedAt: "2021-05-19T02:00:00.000Z",
    updatedAt: "2021-05-19T02:00:01.000Z",
    ...overrides,
  });

const register = (...records: LicenceRecord[]) => new Map(records.map((r) => [r.id, r]));

describe("the sync's plan", () => {
  it("reads the forms of new, changed, keyless and re-keyed licences only, in the list's order", () => {
    const plan = planSync(
      register(
        record("1"),
        record("2"),
        record("3", { key: undefined }),
        record("4"),
        record("5", { formPending: true }),
      ),
      {
        rows: [
          row("1"),
          row("2", { expiresOn: "2022-06-16" }),
          row("3"),
          row("4", { keyChangedOn: "2021-05-19" }),
          row("5"),
          row("6"),
        ],
        complete: true,
      },
    );
    expect(plan.toRead.map((r) => [r.row.id, r.before?.id])).toEqual([
      ["2", "2"],
      ["3", "3"],
      ["4", "4"],
      ["5", "5"],
      ["6", undefined],
    ]);
    expect(plan.unchanged).toBe(1);
  });

  it("leaves a deleted licence's form unread once the register has it as the list shows it", () => {
    const plan = planSync(register(record("1", { status: "deleted", statusCode: "4", key: undefined })), {
      rows: [row("1", { status: "deleted", statusCode: "4" })],
      complete: true,
    });
    expect(plan.toRead).toEqual([]);
    expect(plan.unchanged).toBe(1);
  });

  it("marks gone only what a complete list leaves out, and not twice", () => {
    const records = register(record("1"), record("2"), record("3", { goneSince: "2021-05-01" }));
    const listed = [row("1")];
    expect(planSync(records, { rows: listed, complete: true }).gone.map((r) => r.id)).toEqual(["2"]);
    expect(
      planSync(records, { rows: listed, complete: false, incomplete: "a page was cut short" }).gone,
    ).toEqual([]);
  });
});
