import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";

/** The README stays a front door, and no link between the documents leads nowhere. */
const ROOT = new URL("../../", import.meta.url).pathname;
const DOCUMENTS = [
  "README.md",
  "sandbox/README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`),
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchor = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, "utf8").replace(/^```[\s\S]*?^```/gm, "");
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1] as string)));
}

describe("the documents", () => {
  it("keep the README under 16 KB", () => {
    expect(readFileSync(join(ROOT, "README.md")).length).toBeLessThan(16 * 1024);
  });

  it.each(DOCUMENTS)("%s links only to files and headings that exist", (document) => {
    const file = join(ROOT, document);
    const text = readFileSync(file, "utf8").replace(/^```[\s\S]*?^```/gm, "");
    const broken: string[] = [];
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1] as string;
      if (/^[a-z]+:/.test(target)) continue;
      const [path, hash] = target.split("#") as [string, string | undefined];
      const linked = path === "" ? file : join(dirname(file), path);
      if (!existsSync(linked)) broken.push(`${target} (no ${relative(ROOT, linked)})`);
      else if (hash !== undefined && !anchorsOf(linked).has(hash)) broken.push(`${target} (no such heading)`);
    }
    expect(broken).toEqual([]);
  });
});
