import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { envReads, envReadsUnder } from "./env-reads.ts";

/**
 * docs/configuration.md lists every environment variable the code reads, and only those: a variable
 * added to the code without a row fails here, and so does a row left behind after its last reader went.
 * The code is every command's: the functions, the shared code, the local tools, the sandbox, the CDK
 * app, the benchmarks, and of test/ only what a command runs as such (vitest's global setup, the
 * simulation behind `npm run simulate`), not the tests' own fiddling with the environment.
 */
const ROOT = new URL("../../", import.meta.url).pathname;
const SCANNED = [
  "functions",
  "shared",
  "local",
  "sandbox",
  "infra",
  "bench",
  "test/setup",
  "test/simulation",
];
const DOC = readFileSync(join(ROOT, "docs/configuration.md"), "utf8");

/** Backticked names in the first cell of each table row, by the `## ` section they stand in. */
function documented(markdown: string): Map<string, Set<string>> {
  const sections = new Map<string, Set<string>>();
  let section = "";
  for (const line of markdown.split("\n")) {
    const heading = /^## (.+)$/.exec(line);
    if (heading) section = heading[1] as string;
    const firstCell = /^\|([^|]*)\|/.exec(line)?.[1];
    if (!firstCell) continue;
    for (const m of firstCell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) {
      if (!sections.has(section)) sections.set(section, new Set());
      sections.get(section)?.add(m[1] as string);
    }
  }
  return sections;
}

describe("docs/configuration.md", () => {
  const reads = envReadsUnder(ROOT, SCANNED);
  const readers = new Map<string, string[]>();
  for (const [file, names] of reads)
    for (const name of names) readers.set(name, [...(readers.get(name) ?? []), file]);
  const sections = documented(DOC);
  const listed = new Set([...sections.values()].flatMap((names) => [...names]));
  const claimed = sections.get("Environment variables") ?? new Set<string>();

  it("lists every variable the code reads", () => {
    const missing = [...readers]
      .filter(([name]) => !listed.has(name))
      .map(([name, files]) => `${name} (${files.join(", ")})`);
    expect(missing, "read by the code, not in docs/configuration.md").toEqual([]);
  });

  it("lists under 'Environment variables' only variables the code reads", () => {
    const unread = [...claimed].filter((name) => !readers.has(name));
    expect(unread, "in docs/configuration.md, read by no code").toEqual([]);
  });

  it("finds the reads it must: the scan is live on the real code", () => {
    for (const [file, name] of [
      ["shared/config.ts", "BILLMGR_URL"], // a valibot schema key
      ["shared/config.ts", "SCHEDULE_TIMEZONE"],
      ["local/settings.ts", "PORT"], // handed to a reader with its name
      ["local/settings.ts", "RECONCILE_EVERY_SECONDS"], // env.X
      ["sandbox/config.ts", "SANDBOX_BALANCE"],
      ["functions/lib/clock.ts", "NOW"], // process.env.X
      ["test/setup/dynamodb-local.ts", "TEST_DYNAMODB_ENDPOINT"],
    ] as const)
      expect(reads.get(file)?.has(name), `${name} in ${file}`).toBe(true);
    expect(claimed.size).toBeGreaterThan(40);
  });
});

describe("the scan of environment reads", () => {
  it("finds each way the code reads a variable", () => {
    const source = `
      const a = process.env.ALPHA ?? "1";
      const b = process.env["BRAVO"];
      const c = process.env?.CHARLIE;
      const { DELTA, ECHO: echo, FOXTROT = "x" } = process.env;
      function read(env: Record<string, string | undefined>) { return env.GOLF ?? env["HOTEL"]; }
      const vars = process.env;
      const i = vars.INDIA;
      const port = readPort(env, "JULIETT", 3000, errors);
      const Schema = v.object({
        KILO: v.optional(v.pipe(v.string(), v.check((s) => { return s.length > 0; }))),
        LIMA: integer(3, 0),
      });
      if (process.env.MIKE === undefined) {}
    `;
    expect([...envReads(source)].sort()).toEqual(
      [
        "ALPHA",
        "BRAVO",
        "CHARLIE",
        "DELTA",
        "ECHO",
        "FOXTROT",
        "GOLF",
        "HOTEL",
        "INDIA",
        "JULIETT",
        "KILO",
        "LIMA",
        "MIKE",
      ].sort(),
    );
  });

  it("does not count writes, comments, other objects' fields or lower-case keys", () => {
    const source = `
      process.env.TMPDIR = dir;
      // process.env.IN_A_COMMENT
      /** env.IN_A_DOC_COMMENT */
      const url = local.env.BILLMGR_URL;
      const body = v.object({ name: v.string(), nested: v.object({ inner: v.string() }) });
      const settings = { NOT_READ: "1" };
    `;
    expect([...envReads(source)]).toEqual([]);
  });
});
