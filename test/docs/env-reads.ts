import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

/**
 * The environment variables a piece of source reads, found the ways this code reads them:
 * `process.env.X`, `process.env["X"]`, `{ X, Y: y } = process.env`, an alias (`const env = process.env`, or a
 * parameter called `env`) followed by `.X` or `["X"]`, and the keys of valibot schemas over the environment
 * (`v.object({ X: ... })` with upper-case keys, as `shared/config.ts` reads everything the functions take),
 * and the environment handed to a reader with the variable's name (`readPort(env, "PORT", ...)`).
 * Writes (`process.env.X = ...`) are not reads. Names are upper-case, as every variable here is.
 */
export function envReads(source: string): Set<string> {
  const code = withoutComments(source);
  const found = new Set<string>();
  const NAME = "([A-Z][A-Z0-9_]*)";
  const aliases = new Set(["env"]);
  for (const m of code.matchAll(/\b([A-Za-z_$][\w$]*)\s*(?::[^=;,)]+)?=\s*process\.env\b(?!\s*\.|\s*\[)/g))
    aliases.add(m[1] as string);
  const holders = ["process\\.env", ...[...aliases].map((a) => `(?<![\\w$.])${literally(a)}`)];
  for (const holder of holders) {
    const access = new RegExp(`${holder}\\s*(?:\\?\\.|\\.)\\s*${NAME}\\b(?!\\s*=[^=>])`, "g");
    const indexed = new RegExp(
      `${holder}\\s*(?:\\?\\.)?\\[\\s*["'\`]${NAME}["'\`]\\s*\\](?!\\s*=[^=>])`,
      "g",
    );
    for (const m of code.matchAll(access)) found.add(m[1] as string);
    for (const m of code.matchAll(indexed)) found.add(m[1] as string);
    const destructured = new RegExp(`\\{([^{}]*)\\}\\s*=\\s*${holder}\\b`, "g");
    for (const m of code.matchAll(destructured)) {
      for (const part of (m[1] as string).split(",")) {
        const key = /^\s*([A-Z][A-Z0-9_]*)\b/.exec(part)?.[1];
        if (key) found.add(key);
      }
    }
  }
  // The environment handed to a reader together with the variable's name: `readPort(env, "PORT", ...)`.
  for (const m of code.matchAll(new RegExp(`\\(\\s*(?:process\\.)?env\\s*,\\s*["'\`]${NAME}["'\`]`, "g")))
    found.add(m[1] as string);
  for (const body of schemaBodies(code))
    for (const m of body.matchAll(/(?:^|[{,])\s*([A-Z][A-Z0-9_]*)\s*:/gm)) found.add(m[1] as string);
  return found;
}

/** Every `.ts` file under these folders of the repository, with the variables each reads. */
export function envReadsUnder(root: string, folders: string[]): Map<string, Set<string>> {
  const reads = new Map<string, Set<string>>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts"))
        reads.set(relative(root, path), envReads(readFileSync(path, "utf8")));
    }
  };
  for (const folder of folders) walk(join(root, folder));
  return reads;
}

/** The top level of each `v.object({ ... })`'s braces: nested objects are cut out, so only its own keys remain. */
function schemaBodies(code: string): string[] {
  const bodies: string[] = [];
  for (const m of code.matchAll(/\bv\.object\(\s*\{/g)) {
    let depth = 0;
    let body = "";
    for (let i = (m.index as number) + m[0].length - 1; i < code.length; i++) {
      const c = code[i] as string;
      if ("{([".includes(c)) depth++;
      else if ("})]".includes(c)) depth--;
      if (depth === 0) break;
      if (depth === 1 && c !== "{") body += c;
    }
    bodies.push(body);
  }
  return bodies;
}

/** Comments may mention variables that no code reads; string contents stay (`process.env["X"]`). */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

const literally = (text: string) => text.replace(/[$]/g, "\\$");
