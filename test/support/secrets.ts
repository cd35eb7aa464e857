import { inspect } from "node:util";
import { expect } from "vitest";

/**
 * The vendor password used across the suite: characters that change under URL and form
 * encoding, so a leak is found in whichever form it takes.
 */
export const VENDOR_USER = "reseller";
export const VENDOR_PASSWORD = "Pw-7q&x=1+%;s3cr3t";
export const VENDOR_CREDENTIALS = `${VENDOR_USER}:${VENDOR_PASSWORD}`;

const FORMS = [
  VENDOR_PASSWORD,
  encodeURIComponent(VENDOR_PASSWORD),
  new URLSearchParams({ s: VENDOR_PASSWORD }).toString().slice(2),
];

/** Every form of the password found in the text. */
export function findSecret(text: string): string[] {
  return FORMS.filter((form) => text.includes(form));
}

/** Renders a value every way a log or a response might (message, inspect with causes, JSON). */
export function renderAll(value: unknown): string {
  const parts = [inspect(value, { depth: 12, showHidden: true }), String(value)];
  try {
    parts.push(JSON.stringify(value));
  } catch {
    // circular values are covered by inspect
  }
  if (value instanceof Error) parts.push(value.message, value.stack ?? "");
  return parts.join("\n");
}

export function expectNoSecret(value: unknown): void {
  expect(findSecret(renderAll(value))).toEqual([]);
}
