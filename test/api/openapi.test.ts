import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { CODE_STATUS, ERROR_CODES } from "../../functions/lib/errors.ts";
import { CODE_MEANING, openApiDocument } from "../../functions/lib/openapi.ts";
import { routes } from "../../shared/api/routes.ts";

/**
 * The OpenAPI document as a newcomer gets it (the documented command), and the rules of Redocly's
 * "recommended" set that matter here, asserted directly (Redocly is not a dependency).
 */

const ROOT = new URL("../../", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "openapi-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Operation {
  operationId: string;
  summary: string;
  tags: string[];
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}

const doc = openApiDocument() as {
  info: { license?: { name?: string; url?: string; identifier?: string } };
  servers?: Array<{ url: string; variables?: Record<string, { default?: string }> }>;
  tags?: Array<{ name: string; description?: string }>;
  security?: unknown[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};
const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
  Object.entries(ops).map(([method, op]) => ({ path, method, op, name: `${method.toUpperCase()} ${path}` })),
);
const op = (method: string, path: string) => doc.paths[path]?.[method] as Operation;

/** The codes an answer with this status may carry, as the document lists them. */
function codesAt(operation: Operation, status: string): string[] {
  const schema = operation.responses[status]?.content?.["application/json"]?.schema as {
    allOf?: Array<{ properties?: { error?: { properties?: { code?: { enum?: string[] } } } } }>;
  };
  return schema?.allOf?.[1]?.properties?.error?.properties?.code?.enum ?? [];
}

describe("npm run openapi", () => {
  it("the documented command writes a file that parses as JSON: the whole document", async () => {
    const file = join(dir, "openapi.json");
    await promisify(execFile)("npm", ["run", "openapi", "--", "--out", file], { cwd: ROOT, timeout: 60_000 });
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });
});

describe("the document passes the recommended rules that matter", () => {
  it("operations: a unique, URL-safe operationId, a summary, a defined tag, a 2xx, a 4xx and the 500", () => {
    expect(operations).toHaveLength(routes.length);
    const ids = operations.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const tags = new Map((doc.tags ?? []).map((t) => [t.name, t.description]));
    for (const { op, name } of operations) {
      expect(op.operationId, name).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(op.summary, name).toBeTruthy();
      expect(op.tags.length, name).toBeGreaterThan(0);
      for (const tag of op.tags) expect(tags.get(tag), `${name}: tag ${tag}`).toBeTruthy();
      const statuses = Object.keys(op.responses);
      expect(
        statuses.some((s) => /^2\d\d$/.test(s)),
        name,
      ).toBe(true);
      expect(
        statuses.some((s) => /^4\d\d$/.test(s)),
        name,
      ).toBe(true);
      expect(statuses, name).toContain("500");
      for (const [status, response] of Object.entries(op.responses)) {
        expect(response.description, `${name} ${status}`).toBeTruthy();
      }
    }
  });

  it("path parameters are declared, and no parameter is declared twice", () => {
    for (const { path, op, name } of operations) {
      const declared = op.parameters ?? [];
      for (const [, param] of path.matchAll(/\{(\w+)\}/g)) {
        expect(
          declared.some((p) => p.name === param && p.in === "path" && p.required),
          `${name}: ${param}`,
        ).toBe(true);
      }
      const keys = declared.map((p) => `${p.in}:${p.name}`);
      expect(new Set(keys).size, name).toBe(keys.length);
    }
  });

  it("servers, licence, security scheme, and no unused components", () => {
    expect(doc.servers?.length).toBeGreaterThan(0);
    for (const server of doc.servers ?? []) {
      expect(server.url).not.toMatch(/example\.com|\/$/);
      for (const name of server.url.match(/\{(\w+)\}/g) ?? []) {
        expect(server.variables?.[name.slice(1, -1)]?.default, `${server.url} ${name}`).toBeTruthy();
      }
    }
    expect(doc.info.license?.name).toBeTruthy();
    expect(doc.info.license?.url ?? doc.info.license?.identifier).toBeTruthy();
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(Object.keys(doc.components.securitySchemes)).toEqual(["bearer"]);
    const text = JSON.stringify(doc.paths);
    for (const name of Object.keys(doc.components.schemas)) {
      expect(text, `components.schemas.${name}`).toContain(`"#/components/schemas/${name}"`);
    }
    for (const ref of text.match(/#\/components\/schemas\/\w+/g) ?? []) {
      expect(doc.components.schemas).toHaveProperty(ref.split("/").at(-1) as string);
    }
  });
});

describe("each operation lists only the answers it can give", () => {
  it("every code under the status it is answered with, and every code known", () => {
    for (const code of ERROR_CODES) expect(CODE_STATUS[code], code).toBeGreaterThanOrEqual(400);
    for (const code of ERROR_CODES) expect(CODE_MEANING[code], code).toMatch(/\w/);
    for (const { op, name } of operations) {
      for (const status of Object.keys(op.responses).filter((s) => Number(s) >= 400)) {
        const codes = codesAt(op, status);
        expect(codes.length, `${name} ${status}`).toBeGreaterThan(0);
        for (const code of codes) expect(CODE_STATUS[code], `${name} ${status} ${code}`).toBe(Number(status));
        for (const code of codes) expect(op.responses[status]?.description).toContain(`\`${code}\``);
      }
    }
  });

  it("the register's list calls no vendor and moves no money: 400, 401 and 500 only", () => {
    const list = op("get", "/licenses");
    expect(Object.keys(list.responses).sort()).toEqual(["200", "400", "401", "500"]);
    expect(codesAt(list, "400")).toEqual(["invalid_request"]);
  });

  it("a renewal lists the cap refusal; an order and the other routes do not", () => {
    expect(codesAt(op("post", "/licenses/{id}/renew"), "422")).toEqual(
      expect.arrayContaining(["already_at_cap", "lifecycle_closed", "idempotency_key_reused"]),
    );
    expect(codesAt(op("post", "/licenses/{id}/renew"), "402")).toEqual(["insufficient_balance"]);
    for (const { path, method, op: operation, name } of operations) {
      if (path === "/licenses/{id}/renew" && method === "post") continue;
      expect(codesAt(operation, "422"), name).not.toContain("already_at_cap");
    }
    expect(op("post", "/licenses/{id}/suspend").responses).not.toHaveProperty("402");
    expect(codesAt(op("post", "/licenses"), "409")).toContain("order_not_placed");
    expect(codesAt(op("get", "/ip-availability"), "404")).toEqual(["not_found"]);
  });
});
