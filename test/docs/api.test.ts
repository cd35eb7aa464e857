import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CODE_STATUS, ERROR_CODES } from "../../functions/lib/errors.ts";

/** docs/api.md's error table: every code the functions answer with, each with the status it comes with. */
const ROOT = new URL("../../", import.meta.url).pathname;
const doc = readFileSync(join(ROOT, "docs/api.md"), "utf8");
const section = doc.slice(doc.indexOf("## Errors"), doc.indexOf("### Answers from the gateway itself"));
const rows = [...section.matchAll(/^\| (\d{3}) +\| ([^|]+)\|/gm)].flatMap((row) =>
  [...(row[2] as string).matchAll(/`([a-z_]+)`/g)].map(
    (code) => [code[1] as string, Number(row[1])] as const,
  ),
);

describe("docs/api.md", () => {
  it("lists every error code the functions answer with, under its status", () => {
    const listed = new Map(rows);
    for (const code of new Set(ERROR_CODES)) expect(listed.get(code), code).toBe(CODE_STATUS[code]);
  });

  it("lists no code the functions do not answer with", () => {
    expect(rows.length).toBeGreaterThan(20);
    for (const [code] of rows) expect(ERROR_CODES, code).toContain(code);
  });
});
