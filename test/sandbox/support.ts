import { existsSync, readFileSync } from "node:fs";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { expect } from "vitest";
import { type Sandbox, type SandboxOptions, startSandbox } from "../../sandbox/server.ts";
import { VENDOR_CREDENTIALS } from "../support/secrets.ts";

export const CREDENTIALS = VENDOR_CREDENTIALS;

export type Method = "GET" | "POST";

export interface Answer {
  status: number;
  contentType: string;
  text: string;
  headers: Headers;
}

/** The sandbox with the suite's credentials (a password that changes under URL encoding). */
export function start(options: SandboxOptions = {}): Promise<Sandbox> {
  return startSandbox({ credentials: CREDENTIALS, ...options });
}

/**
 * A raw vendor call: parameters as a GET query or as a POST form, `authinfo` added unless the
 * parameters say otherwise (`authinfo: undefined` sends none).
 */
export async function call(
  sandbox: Pick<Sandbox, "url">,
  params: Record<string, string | undefined>,
  options: { method?: Method; signal?: AbortSignal } = {},
): Promise<Answer> {
  const all: Record<string, string> = {};
  const withAuth = "authinfo" in params || "auth" in params ? params : { authinfo: CREDENTIALS, ...params };
  for (const [key, value] of Object.entries(withAuth)) if (value !== undefined) all[key] = value;
  const form = new URLSearchParams(all).toString();
  const method = options.method ?? "GET";
  const response =
    method === "GET"
      ? await fetch(`${sandbox.url}?${form}`, { signal: options.signal ?? null })
      : await fetch(sandbox.url, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: form,
          signal: options.signal ?? null,
        });
  return {
    status: response.status,
    contentType: response.headers.get("content-type") ?? "",
    text: await response.text(),
    headers: response.headers,
  };
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (name) => name === "elem",
});

export type Loose = any;

/** The `<doc>` of a well-formed vendor XML answer. */
export function xmlDoc(answer: Answer | string): Loose {
  const text = typeof answer === "string" ? answer : answer.text;
  expect(XMLValidator.validate(text), text).toBe(true);
  const parsed = parser.parse(text) as { doc: Loose };
  return parsed.doc;
}

export function jsonDoc(answer: Answer | string): Loose {
  const text = typeof answer === "string" ? answer : answer.text;
  return (JSON.parse(text) as { doc: Loose }).doc;
}

/** Asserts the answer is the vendor's `<error>` with this type and object; returns its message. */
export function expectError(answer: Answer, type: string, object: string): string {
  expect(answer.status).toBe(200);
  const doc = xmlDoc(answer);
  expect(doc.error, answer.text).toBeDefined();
  expect(doc.error["@_type"]).toBe(type);
  expect(doc.error["@_object"]).toBe(object);
  expect(doc.error.ok).toBeUndefined();
  expect(doc.ok).toBeUndefined();
  return String(doc.error.msg);
}

export function expectOk(answer: Answer): Loose {
  expect(answer.status).toBe(200);
  const doc = xmlDoc(answer);
  expect(doc.error, answer.text).toBeUndefined();
  expect(doc.ok).toBe("");
  return doc;
}

/** The vendor's sample answers, in test/fixtures/billmgr/. */
export function fixture(name: string): string {
  for (const dir of ["../fixtures/billmgr/"]) {
    const url = new URL(`${dir}${name}`, import.meta.url);
    if (existsSync(url)) return readFileSync(url, "utf8");
  }
  throw new Error(`fixture ${name} not found`);
}

export const ORDER = {
  func: "soft.order.param",
  clicked_button: "finish",
  sok: "ok",
  skipbasket: "on",
  out: "xml",
} as const;

/** Orders a licence over HTTP and returns its id. */
export async function order(
  sandbox: Pick<Sandbox, "url">,
  fields: Record<string, string> = {},
  method: Method = "GET",
): Promise<string> {
  const answer = await call(
    sandbox,
    { ...ORDER, ip: "82.156.37.16", licname: "web-1", period: "1", pricelist: "3541", ...fields },
    { method },
  );
  const doc = expectOk(answer);
  return String(doc.id ?? doc["item.id"]);
}

export function listRows(answer: Answer): Loose[] {
  return (xmlDoc(answer).elem as Loose[]).filter((row) => row !== "");
}

export const at = (iso: string) => new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso);
