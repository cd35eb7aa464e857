import { describe, expect, it } from "vitest";
import {
  generationOf,
  loadCatalogue,
  ordersOpen,
  renewalsOpen,
} from "../../shared/domain/catalogue/catalogue.ts";

/** The catalogue as shipped, and what it refuses at start (CATALOGUE_JSON is the reseller's own data). */
const shipped = loadCatalogue();

describe("the shipped catalogue", () => {
  it("sells ISPmanager 6 Lite, Pro, Host and Business, one generation, with no vendor dates", () => {
    const six = shipped.products.filter((p) => generationOf(p) === "ispmanager6");
    expect(six.map((p) => [p.id, p.pricelist, p.periods, p.nodes?.addon ?? null])).toEqual([
      ["ispmanager6-lite", "55227", [1, 12], null],
      ["ispmanager6-pro", "55228", [1, 12], null],
      ["ispmanager6-host", "55229", [1, 12], null],
      ["ispmanager6-business", "55230", [1, 12], "addon_55236"],
    ]);
    for (const product of six) {
      expect(product.lifecycle).toEqual({});
      // Still sold and renewed after ISPmanager 5's last day.
      expect(ordersOpen(product, "2022-01-01")).toBe(true);
      expect(renewalsOpen(product, "2022-01-01")).toBe(true);
      expect(product.costMinor).toMatchObject({ "1": expect.any(Number), "12": expect.any(Number) });
    }
  });

  it("names each ISPmanager 5 product's successor: Lite to 6 Lite, Business to 6 Business", () => {
    expect(
      shipped.products
        .filter((p) => generationOf(p) === "ispmanager5")
        .map((p) => [p.id, p.successor, p.nodes === null]),
    ).toEqual([
      ["ispmanager5-lite", "ispmanager6-lite", true],
      ["ispmanager5-business", "ispmanager6-business", false],
    ]);
    expect(shipped.byId("ispmanager6-business")?.nodes).toMatchObject({ min: 1, max: 64 });
  });
});

describe("a catalogue refused at start", () => {
  const withSuccessor = (successor: string) =>
    JSON.stringify({
      currency: shipped.currency,
      products: shipped.products.map((p) => (p.id === "ispmanager5-lite" ? { ...p, successor } : p)),
    });

  it("names a successor it does not hold", () => {
    expect(() => loadCatalogue(withSuccessor("ispmanager7-lite"))).toThrow(
      "invalid product catalogue: ispmanager5-lite's successor ispmanager7-lite is not in the catalogue",
    );
  });

  it("names a successor of the product's own generation", () => {
    expect(() => loadCatalogue(withSuccessor("ispmanager5-business"))).toThrow(
      /ispmanager5-lite's successor ispmanager5-business is of its own generation \(ispmanager5\)/,
    );
  });
});
