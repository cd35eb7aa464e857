import type { IncomingMessage, ServerResponse } from "node:http";
import { parseInstant } from "../shared/domain/dates.ts";
import type { RecordedCall } from "./calls.ts";
import { SandboxError } from "./errors.ts";
import { FAULT_KINDS, type FaultQueue, isFaultKind } from "./faults.ts";
import { isLoopback, readBody, sendJson } from "./http.ts";
import type { Autoprolong, SandboxState, SeedInput, StatusCode } from "./state.ts";

export const CONTROL_PREFIX = "/sandbox/";

export interface ControlContext {
  readonly state: SandboxState;
  readonly faults: FaultQueue;
  readonly calls: RecordedCall[];
  /** Lets the calls a `hold` fault holds go on; answers how many there were. */
  release(): number;
}

/** A bad control request: answered 4xx with `{"error": message}`. */
class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

/** exists: a clash; access: the licence is in no state for it (re-keyed before it has a key); missed: gone. */
const SANDBOX_ERROR_STATUS: Readonly<Record<string, number>> = { exists: 409, access: 409, missed: 404 };

async function jsonBody(req: IncomingMessage): Promise<Json> {
  const text = await readBody(req);
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ControlError(400, "body is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ControlError(400, "body must be a JSON object");
  }
  return value as Json;
}

function optionalString(body: Json, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  throw new ControlError(400, `${name} must be a string`);
}

function optionalInteger(body: Json, name: string): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  const number = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number)) {
    throw new ControlError(400, `${name} must be an integer`);
  }
  return number;
}

function seedInput(body: Json): SeedInput {
  const licname = optionalString(body, "licname") ?? optionalString(body, "name");
  const ip = optionalString(body, "ip");
  const pricelist = optionalString(body, "pricelist");
  if (licname === undefined || ip === undefined || pricelist === undefined) {
    throw new ControlError(400, "licname, ip and pricelist are required");
  }
  const input: SeedInput = { licname, ip, pricelist };
  const id = optionalString(body, "id");
  if (id !== undefined) input.id = id;
  const period = optionalInteger(body, "period");
  if (period !== undefined) input.period = period;
  const nodes = optionalInteger(body, "nodes");
  if (nodes !== undefined) input.nodes = nodes;
  const status = optionalString(body, "status");
  if (status !== undefined) input.status = status as StatusCode;
  const autoprolong = optionalString(body, "autoprolong");
  if (autoprolong !== undefined)
    input.autoprolong = (autoprolong === "null" ? null : autoprolong) as Autoprolong;
  const suspendedBy = optionalString(body, "suspendedBy");
  if (suspendedBy !== undefined) {
    if (suspendedBy !== "user" && suspendedBy !== "nonpayment") {
      throw new ControlError(400, "suspendedBy must be user or nonpayment");
    }
    input.suspendedBy = suspendedBy;
  }
  for (const field of [
    "createdate",
    "expiredate",
    "key",
    "remoteip",
    "ip_change_date",
    "lickey_change_date",
  ] as const) {
    const value = optionalString(body, field);
    if (value !== undefined) input[field] = value;
  }
  return input;
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  ctx: ControlContext,
): Promise<void> {
  const method = req.method ?? "GET";
  const key = `${method} ${path}`;
  switch (key) {
    case "GET state":
      return sendJson(res, 200, { ...ctx.state.snapshot(), faults: ctx.faults.pending() });
    case "POST clock": {
      const text = optionalString(await jsonBody(req), "now");
      const now = text === undefined ? undefined : parseInstant(text);
      if (!now) throw new ControlError(400, 'now must be an ISO date or date-time, e.g. "2021-05-01"');
      ctx.state.setNow(now);
      return sendJson(res, 200, { now: ctx.state.now().toISOString(), today: ctx.state.today() });
    }
    case "GET faults":
      return sendJson(res, 200, { faults: ctx.faults.pending() });
    case "POST faults": {
      const body = await jsonBody(req);
      const func = optionalString(body, "func");
      const kind = body.kind;
      if (!func) throw new ControlError(400, 'func is required (a vendor function, or "*")');
      if (!isFaultKind(kind)) throw new ControlError(400, `kind must be one of ${FAULT_KINDS.join(", ")}`);
      try {
        ctx.faults.add({
          func,
          kind,
          count: optionalInteger(body, "count"),
          delayMs: optionalInteger(body, "delayMs"),
          chunkBytes: optionalInteger(body, "chunkBytes"),
          skip: optionalInteger(body, "skip"),
        });
      } catch (error) {
        throw new ControlError(400, error instanceof Error ? error.message : String(error));
      }
      return sendJson(res, 201, { faults: ctx.faults.pending() });
    }
    case "DELETE faults":
      ctx.faults.clear();
      return sendJson(res, 204, undefined);
    case "POST faults/release":
      return sendJson(res, 200, { released: ctx.release() });
    case "GET calls":
      return sendJson(res, 200, { calls: ctx.calls });
    case "DELETE calls":
      ctx.calls.length = 0;
      return sendJson(res, 204, undefined);
    case "GET quirks":
      return sendJson(res, 200, { quirks: ctx.state.quirks });
    case "POST quirks":
      return sendJson(res, 200, { quirks: ctx.state.setQuirks(await jsonBody(req)) });
    case "POST licences":
      return sendJson(res, 201, { licence: ctx.state.seed(seedInput(await jsonBody(req))) });
    case "POST balance": {
      const minor = optionalInteger(await jsonBody(req), "minor");
      if (minor === undefined) throw new ControlError(400, "minor (an integer of minor units) is required");
      ctx.state.setBalance(minor);
      return sendJson(res, 200, { balanceMinor: ctx.state.balanceMinor });
    }
  }
  const licence = /^licences\/([^/]+)$/.exec(path);
  if (licence && method === "DELETE") {
    const id = decodeURIComponent(licence[1] ?? "");
    if (!ctx.state.vanish(id)) throw new ControlError(404, `no licence ${id}`);
    return sendJson(res, 204, undefined);
  }
  const rekey = /^licences\/([^/]+)\/rekey$/.exec(path);
  if (rekey && method === "POST") {
    const id = decodeURIComponent(rekey[1] ?? "");
    if (!ctx.state.get(id)) throw new ControlError(404, `no licence ${id}`);
    return sendJson(res, 200, { licence: ctx.state.rekey(id) });
  }
  const known = ["state", "clock", "faults", "faults/release", "calls", "licences", "balance", "quirks"];
  if (known.includes(path) || licence || rekey)
    throw new ControlError(405, `${method} is not supported on /sandbox/${path}`);
  throw new ControlError(404, `no control endpoint /sandbox/${path}`);
}

/**
 * The sandbox's own JSON endpoint for tests and people: state, clock, faults, calls, seeding.
 * It has no credentials of its own, so it answers loopback callers only.
 */
export async function handleControl(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  ctx: ControlContext,
): Promise<void> {
  try {
    if (!isLoopback(req.socket.remoteAddress))
      throw new ControlError(403, "the control endpoint is loopback-only");
    await route(req, res, url.pathname.slice(CONTROL_PREFIX.length), ctx);
  } catch (error) {
    if (error instanceof ControlError) return sendJson(res, error.status, { error: error.message });
    if (error instanceof SandboxError) {
      const status = SANDBOX_ERROR_STATUS[error.type] ?? 400;
      return sendJson(res, status, { error: error.message, type: error.type, object: error.object });
    }
    if (error instanceof RangeError) return sendJson(res, 400, { error: error.message });
    throw error;
  }
}
