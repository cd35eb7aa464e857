import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The layers of shared/ as docs/development.md maps them: the domain (shared/domain/) knows no AWS
 * SDK, no HTTP client, no Lambda and none of the adapters, the API contract or the functions; nothing
 * in shared/ imports in a circle, type-only imports included; and the domain's folders depend on each
 * other one way.
 */
const ROOT = join(dirname(new URL(import.meta.url).pathname), "..", "..");
const SHARED = join(ROOT, "shared");
const DOMAIN = join(SHARED, "domain");

/** What the domain may use besides itself: Node's own modules, the schema library, and these three. */
const DOMAIN_MAY_IMPORT = ["log.ts", "redact.ts", "metrics.ts"].map((f) => join(SHARED, f));
const DOMAIN_PACKAGES = /^(node:|valibot$)/;

type Graph = Map<string, string[]>;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every module a file names: static imports and re-exports (type-only too), dynamic imports. */
function specifiers(source: string): string[] {
  const found = [
    ...source.matchAll(/(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^;]*?\sfrom\s+)?["']([^"']+)["']/g),
    ...source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
  ];
  return found.map((m) => m[1] as string);
}

function importGraph(files: string[]): { graph: Graph; packages: Map<string, string[]> } {
  const graph: Graph = new Map();
  const packages = new Map<string, string[]>();
  for (const file of files) {
    const named = specifiers(readFileSync(file, "utf8"));
    graph.set(
      file,
      named.filter((s) => s.startsWith(".")).map((s) => resolve(dirname(file), s)),
    );
    packages.set(
      file,
      named.filter((s) => !s.startsWith(".")),
    );
  }
  return { graph, packages };
}

/** The strongly connected parts of more than one node (Tarjan): each is an import cycle. */
function cycles(graph: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!graph.has(to)) continue;
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node) as number, low.get(to) as number));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node) as number, index.get(to) as number));
    }
    if (low.get(node) === index.get(node)) {
      const part: string[] = [];
      let member: string;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        part.push(member);
      } while (member !== node);
      if (part.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(part.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** The graph of the domain's folders (`shared/domain/<folder>`; its top-level files are one "(root)"). */
function folderGraph(graph: Graph): Graph {
  const folder = (file: string) => relative(DOMAIN, file).split("/").slice(0, -1)[0] ?? "(root)";
  const folders: Graph = new Map();
  for (const [file, targets] of graph) {
    if (!file.startsWith(DOMAIN)) continue;
    const from = folder(file);
    const edges = folders.get(from) ?? [];
    for (const to of targets)
      if (to.startsWith(DOMAIN) && folder(to) !== from && !edges.includes(folder(to))) edges.push(folder(to));
    folders.set(from, edges);
  }
  for (const edges of folders.values()) for (const to of edges) if (!folders.has(to)) folders.set(to, []);
  return folders;
}

const { graph, packages } = importGraph(sources(SHARED));
const shown = (file: string) => relative(ROOT, file);

describe("the layers of shared/", () => {
  it("the domain imports no AWS SDK, HTTP client, Lambda or CDK package, and nothing outside itself but the log, redaction and metrics", () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      if (!file.startsWith(DOMAIN)) continue;
      for (const pkg of packages.get(file) ?? [])
        if (!DOMAIN_PACKAGES.test(pkg)) wrong.push(`${shown(file)} imports the package ${pkg}`);
      for (const target of targets)
        if (!target.startsWith(DOMAIN) && !DOMAIN_MAY_IMPORT.includes(target))
          wrong.push(`${shown(file)} imports ${shown(target)}`);
    }
    expect(wrong).toEqual([]);
    // The rule reads something: the domain is most of shared/, and it does import.
    expect([...graph.keys()].filter((f) => f.startsWith(DOMAIN)).length).toBeGreaterThan(40);
  });

  it("no module of shared/ imports itself in a circle, type-only imports included", () => {
    expect(cycles(graph).map((part) => part.map(shown))).toEqual([]);
  });

  it("the domain's folders depend on each other one way", () => {
    const folders = folderGraph(graph);
    expect([...folders.keys()].sort()).toEqual(
      ["(root)", "alerts", "catalogue", "licences", "night", "ports", "renewal"].sort(),
    );
    expect(cycles(folders)).toEqual([]);
  });

  it("the checks find what they are for", () => {
    const a = "/x/a.ts";
    const b = "/x/b.ts";
    const c = "/x/c.ts";
    expect(
      cycles(
        new Map([
          [a, [b]],
          [b, [c]],
          [c, [a]],
        ]),
      ),
    ).toEqual([[a, b, c]]);
    expect(
      cycles(
        new Map([
          [a, [b]],
          [b, [c]],
          [c, []],
        ]),
      ),
    ).toEqual([]);
    expect(
      specifiers('import type { X } from "./x.ts";\nexport { y } from "../y.ts";\nawait import("./z.ts");'),
    ).toEqual(["./x.ts", "../y.ts", "./z.ts"]);
  });
});
