import { afterEach, describe, expect, it, vi } from "vitest";
import { errorText, log } from "../shared/log.ts";
import { registerSecret } from "../shared/redact.ts";
import { findSecret, VENDOR_PASSWORD } from "./support/secrets.ts";

/** Every JSON log line of the desk, the watcher and the local servers is written by `log`. */
describe("log", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("writes one JSON line, level and message first, INFO to stdout and WARN, ERROR to stderr", () => {
    const out = vi.spyOn(console, "log").mockImplementation(() => {});
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    log("INFO", "renewal", { night: "2021-05-20", licence: "7", period: 12 });
    log("WARN", "careful");
    log("ERROR", "failed", { attempt: 2 });
    expect(out.mock.calls).toEqual([
      ['{"level":"INFO","message":"renewal","night":"2021-05-20","licence":"7","period":12}'],
    ]);
    expect(err.mock.calls).toEqual([
      ['{"level":"WARN","message":"careful"}'],
      ['{"level":"ERROR","message":"failed","attempt":2}'],
    ]);
  });

  it("redacts every string in the line, however deep, whoever built it", () => {
    registerSecret(VENDOR_PASSWORD);
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    const leak = new Error(`login as reseller:${VENDOR_PASSWORD} refused`);
    log("ERROR", `could not call with ${VENDOR_PASSWORD}`, {
      error: errorText(leak),
      request: { url: `https://billing.example/billmgr?password=${encodeURIComponent(VENDOR_PASSWORD)}` },
      entries: [`form ${new URLSearchParams({ p: VENDOR_PASSWORD }).toString()}`],
    });
    const [line] = err.mock.calls.map(([written]) => String(written));
    expect(findSecret(line ?? "")).toEqual([]);
    expect(JSON.parse(line ?? "")).toEqual({
      level: "ERROR",
      message: "could not call with [redacted]",
      error: "Error: login as reseller:[redacted] refused",
      request: { url: "https://billing.example/billmgr?password=[redacted]" },
      entries: ["form p=[redacted]"],
    });
  });
});
