import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  BillmgrThrottledError,
  BillmgrTimeoutError,
  BillmgrUnavailableError,
  createBillingClient,
  type OrderRequest,
} from "../../shared/adapters/billmgr/index.ts";
import {
  type CallEvent,
  createTransport,
  parseRetryAfter,
  type TransportOptions,
} from "../../shared/adapters/billmgr/transport.ts";
import { staticCredentials } from "../../shared/domain/ports/credentials.ts";
import { sleep } from "../support/fixtures.ts";
import { expectNoSecret, VENDOR_CREDENTIALS } from "../support/secrets.ts";

/**
 * A vendor that misbehaves the way a loaded service behind a proxy does: answers that trickle in,
 * throttling, pages capped below what was asked. Each test runs its own small HTTP server, so it depends
 * on nothing but the client.
 */

interface Received {
  func: string;
  params: URLSearchParams;
  at: number;
}
type Reply = (request: Received, res: ServerResponse, n: number) => void;

const doc = (func: string, inner: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<doc lang="en" func="${func}">${inner}</doc>`;
const row = (id: number) =>
  `<elem><id>${id}</id><licname>n${id}</licname><ip>82.156.37.${id % 250}</ip><pricelist_id>3541</pricelist_id>` +
  `<period>1</period><expiredate>2021-06-16</expiredate><createdate>2021-05-16</createdate><status>2</status></elem>`;
const xml = (res: ServerResponse, body: string, status = 200, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "text/xml; charset=UTF-8", ...headers });
  res.end(body);
};
/** One page holding the whole list, and saying so. */
const listOf = (ids: number[]) =>
  doc("soft", `<elem/>${ids.map(row).join("")}<p_elems>${ids.length}</p_elems>`);

const order: OrderRequest = {
  ip: "82.156.37.9",
  name: "web",
  pricelist: "3541",
  period: 1,
  autoprolong: null,
};

const stops: Array<() => Promise<void>> = [];
const seenErrors: unknown[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});
afterAll(() => {
  for (const error of seenErrors) expectNoSecret(error);
});

/** A vendor on 127.0.0.1 and a free port, stopped after the test; it records every request it read. */
async function misbehaving(reply: Reply) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      const params = new URLSearchParams(body);
      const request = { func: params.get("func") ?? "", params, at: performance.now() };
      received.push(request);
      reply(request, res, received.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/billmgr`;
  const agents: Agent[] = [];
  stops.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await Promise.all(agents.map((agent) => agent.destroy()));
  });
  return {
    received,
    count: (func: string) => received.filter((r) => r.func === func).length,
    client(options: Partial<TransportOptions> & { pageSize?: number; connections?: number } = {}) {
      const { pageSize = 100, connections, ...transport } = options;
      const agent = new Agent(connections ? { connections } : {});
      agents.push(agent);
      return createBillingClient(
        createTransport({
          url,
          credentials: staticCredentials(VENDOR_CREDENTIALS),
          timeoutMs: 1000,
          retries: 2,
          retryBaseMs: 1,
          format: "xml",
          dispatcher: agent,
          ...transport,
        }),
        { pageSize, balanceFunc: "dashboard.info" },
      );
    },
  };
}

/** A 200 whose body never ends: a byte every 200 ms, so no per-chunk timer ever fires. */
function trickle(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/xml" });
  res.write("<doc>");
  const timer = setInterval(() => res.write(" "), 200);
  res.on("close", () => clearInterval(timer));
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  const error = await promise.then(
    () => new Error("expected the call to fail"),
    (e: unknown) => e,
  );
  seenErrors.push(error);
  return error;
}

async function timed<T>(work: Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await work;
  return [result, performance.now() - started];
}

describe("a total deadline per vendor call", () => {
  it("a trickling answer to an order ends at the timeout, sent once, outcome unknown", async () => {
    const vendor = await misbehaving((_, res) => trickle(res));
    const timeoutMs = 600;
    const [error, elapsed] = await timed(failure(vendor.client({ timeoutMs }).order(order)));
    expect(error).toBeInstanceOf(BillmgrTimeoutError);
    expect(error).toMatchObject({ kind: "timeout", outcome: "unknown", timeoutMs, func: "soft.order.param" });
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 20);
    expect(elapsed).toBeLessThan(2 * timeoutMs);
    expect(vendor.count("soft.order.param")).toBe(1);
  });

  it("a trickling answer to a read: retries stop at the caller's deadline", async () => {
    const vendor = await misbehaving((_, res) => trickle(res));
    const deadlineMs = Date.now() + 1000;
    const [error, elapsed] = await timed(
      failure(vendor.client({ timeoutMs: 600, retries: 5 }).list({ deadlineMs })),
    );
    expect(error).toBeInstanceOf(BillmgrTimeoutError);
    expect((error as Error).message).toMatch(/caller's deadline/);
    // 600 ms, then what is left of the 1000 ms; no third attempt that could not finish.
    expect(vendor.count("soft")).toBe(2);
    expect(elapsed).toBeLessThan(2000);
  });

  it("a deadline already passed: nothing is sent, and the order certainly was not placed", async () => {
    const vendor = await misbehaving((r, res) => xml(res, doc(r.func, "<ok/><id>1</id>")));
    const client = vendor.client();
    for (const deadlineMs of [Date.now() - 1, Date.now() + 20]) {
      const error = await failure(client.order(order, { deadlineMs }));
      expect(error).toBeInstanceOf(BillmgrTimeoutError);
      expect(error).toMatchObject({ outcome: "not_applied" });
      expect(await failure(client.list({ deadlineMs }))).toMatchObject({ outcome: "not_applied" });
      expect(await failure(client.get("2512171", { deadlineMs }))).toBeInstanceOf(BillmgrTimeoutError);
    }
    expect(vendor.received).toHaveLength(0);
  });

  it("a deadline that came while the request waited for a connection: not_applied, and never sent", async () => {
    // One connection, held by a trickling read: the order queues behind it and its deadline passes there.
    const vendor = await misbehaving((r, res) =>
      r.func === "soft" ? trickle(res) : xml(res, doc(r.func, "<ok/><id>1</id>")),
    );
    const client = vendor.client({ connections: 1, timeoutMs: 800, retries: 0 });
    const blocking = failure(client.list());
    await sleep(50);
    const [error, elapsed] = await timed(failure(client.order(order, { deadlineMs: Date.now() + 200 })));
    expect(error).toBeInstanceOf(BillmgrTimeoutError);
    expect(error).toMatchObject({ outcome: "not_applied" });
    expect(elapsed).toBeLessThan(600);
    // Once the connection is free, undici drops the aborted order instead of writing it.
    await blocking;
    await sleep(100);
    expect(vendor.count("soft.order.param")).toBe(0);
  });

  it("a fast answer well inside the deadline is a success", async () => {
    const vendor = await misbehaving((_, res) => xml(res, listOf([1, 2])));
    const listed = await vendor.client().list({ deadlineMs: Date.now() + 5000 });
    expect(listed).toEqual({
      rows: [expect.objectContaining({ id: "1" }), expect.objectContaining({ id: "2" })],
      complete: true,
    });
  });
});

/** The renewal's answer (a nested `<doc>`), and its head cut right after the nested `</doc>`. */
const renewed = doc("service.prolong", "<doc><newexpiredate>2021-07-16</newexpiredate></doc><ok/>");
const renewedHead = renewed.slice(0, renewed.indexOf("</doc>") + "</doc>".length);

/** Writes a raw HTTP/1.1 answer on the socket and closes it, framed however the test says. */
function rawAnswer(res: ServerResponse, head: string, body: string): void {
  res.socket?.end(`HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\n${head}\r\n${body}`);
}

describe("an answer cut short never reads as success", () => {
  it("a body shorter than its Content-Length: the renewal is sent once, outcome unknown", async () => {
    const vendor = await misbehaving((_, res) =>
      rawAnswer(res, `content-length: ${Buffer.byteLength(renewed)}\r\n`, renewedHead),
    );
    const error = await failure(vendor.client().prolong("2512171", 1));
    expect(error).toBeInstanceOf(BillmgrUnavailableError);
    expect(error).toMatchObject({ outcome: "unknown" });
    expect(vendor.count("service.prolong")).toBe(1);
  });

  it("a chunked answer whose connection dies after the nested </doc>: sent once, outcome unknown", async () => {
    const vendor = await misbehaving((_, res) => {
      res.writeHead(200, { "content-type": "text/xml" });
      res.write(renewedHead, () => res.destroy());
    });
    const error = await failure(vendor.client().prolong("2512171", 1));
    expect(error).toBeInstanceOf(BillmgrUnavailableError);
    expect(error).toMatchObject({ outcome: "unknown" });
    expect(vendor.count("service.prolong")).toBe(1);
  });

  it("an answer framed by closing the connection, cut after the nested </doc>: the XML says it is cut", async () => {
    const vendor = await misbehaving((_, res) => rawAnswer(res, "connection: close\r\n", renewedHead));
    const error = await failure(vendor.client().prolong("2512171", 1));
    expect(error).toBeInstanceOf(BillmgrUnavailableError);
    expect(error).toMatchObject({ outcome: "unknown" });
    expect(String((error as Error).message)).toContain("malformed XML");
    expect(vendor.count("service.prolong")).toBe(1);
  });

  it("the same framing with the whole answer is a success (the cut, not the framing, is refused)", async () => {
    const vendor = await misbehaving((_, res) => rawAnswer(res, "connection: close\r\n", renewed));
    await expect(vendor.client().prolong("2512171", 1)).resolves.toEqual({ newExpiry: "2021-07-16" });
  });
});

describe("throttling", () => {
  it("429 with Retry-After: a read waits as asked, then succeeds", async () => {
    const vendor = await misbehaving((_, res, n) =>
      n === 1 ? xml(res, "slow down", 429, { "retry-after": "1" }) : xml(res, listOf([7])),
    );
    const events: CallEvent[] = [];
    const listed = await vendor.client({ onCall: (e) => events.push(e) }).list();
    expect(listed.rows.map((l) => l.id)).toEqual(["7"]);
    expect(vendor.received).toHaveLength(2);
    const [first, second] = vendor.received;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(950);
    expect(events.map((e) => e.result)).toEqual(["throttled", "ok"]);
  });

  it("429 on an order: never repeated, not applied, with the wait the vendor asked for", async () => {
    const vendor = await misbehaving((_, res) => xml(res, "", 429, { "retry-after": "2" }));
    const error = await failure(vendor.client().order(order));
    expect(error).toBeInstanceOf(BillmgrThrottledError);
    expect(error).toMatchObject({
      kind: "throttled",
      status: 429,
      retryAfterMs: 2000,
      outcome: "not_applied",
    });
    expect(vendor.count("soft.order.param")).toBe(1);
  });

  it("429 on a renewal and on a licence change: sent once", async () => {
    const vendor = await misbehaving((_, res) => xml(res, "", 429, { "retry-after": "0" }));
    const client = vendor.client();
    expect(await failure(client.prolong("2512171", 1))).toBeInstanceOf(BillmgrThrottledError);
    expect(await failure(client.suspend("2512171"))).toBeInstanceOf(BillmgrThrottledError);
    expect(vendor.count("service.prolong")).toBe(1);
    expect(vendor.count("soft.suspend")).toBe(1);
  });

  it("503 with Retry-After: a read is retried; an order is sent once and its outcome is unknown", async () => {
    let soft = 0;
    const vendor = await misbehaving((r, res) => {
      if (r.func === "soft" && ++soft > 1) return xml(res, listOf([3]));
      xml(res, "<html>busy</html>", 503, { "retry-after": "0" });
    });
    const client = vendor.client();
    expect((await client.list()).rows.map((l) => l.id)).toEqual(["3"]);
    expect(vendor.count("soft")).toBe(2);
    const error = await failure(client.order(order));
    expect(error).toBeInstanceOf(BillmgrThrottledError);
    expect(error).toMatchObject({ status: 503, retryAfterMs: 0, outcome: "unknown" });
    expect(vendor.count("soft.order.param")).toBe(1);
  });

  it("503 without Retry-After stays an outage, not a throttle", async () => {
    const vendor = await misbehaving((_, res) => xml(res, "<html>down</html>", 503));
    const error = await failure(vendor.client({ retries: 0 }).list());
    expect(error).toBeInstanceOf(BillmgrUnavailableError);
    expect(error).toMatchObject({ status: 503, outcome: "unknown" });
  });

  it("429 without Retry-After: the read backs off with jitter and retries", async () => {
    const vendor = await misbehaving((_, res, n) => (n < 3 ? xml(res, "", 429) : xml(res, listOf([4]))));
    expect((await vendor.client().list()).rows.map((l) => l.id)).toEqual(["4"]);
    expect(vendor.received).toHaveLength(3);
  });

  it("a Retry-After longer than the read may wait, or past the deadline: no retry, the throttle is the answer", async () => {
    const vendor = await misbehaving((_, res) => xml(res, "", 429, { "retry-after": "30" }));
    const [error, elapsed] = await timed(failure(vendor.client().list()));
    expect(error).toMatchObject({ kind: "throttled", retryAfterMs: 30_000 });
    expect(elapsed).toBeLessThan(1000);
    expect(vendor.received).toHaveLength(1);

    const soon = await misbehaving((_, res) => xml(res, "", 429, { "retry-after": "2" }));
    const late = await failure(soon.client().list({ deadlineMs: Date.now() + 1000 }));
    expect(late).toMatchObject({ kind: "throttled", retryAfterMs: 2000 });
    expect(soon.received).toHaveLength(1);
  });

  it("reads Retry-After as seconds or an HTTP date, bounded", () => {
    const now = Date.parse("2021-05-01T10:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    expect(parseRetryAfter("Sat, 01 May 2021 10:00:07 GMT", now)).toBe(7000);
    expect(parseRetryAfter("Sat, 01 May 2021 09:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("99999999", now)).toBe(24 * 60 * 60 * 1000);
    expect(parseRetryAfter(["5", "9"], now)).toBe(5000);
    for (const bad of [undefined, "", "soon", "-1", "1.5", "in 5 s"])
      expect(parseRetryAfter(bad, now)).toBeUndefined();
  });
});

describe("paging", () => {
  const ids = [101, 102, 103, 104, 105];
  /** Never more than 2 rows a page, whatever `p_cnt` asks. */
  const capped =
    (withTotal: boolean, book = ids, total = book.length) =>
    (r: Received, res: ServerResponse) => {
      const page = Number(r.params.get("p_num") ?? 1);
      const rows = book.slice((page - 1) * 2, page * 2);
      const count = withTotal ? `<p_elems>${total}</p_elems>` : "";
      xml(res, doc("soft", `<elem/>${rows.map(row).join("")}<p_cnt>2</p_cnt><p_num>${page}</p_num>${count}`));
    };
  const pagesAsked = (vendor: { received: Received[] }) => vendor.received.map((r) => r.params.get("p_num"));

  it("without p_elems, pages capped below p_cnt: the page shorter than the ones before is the last", async () => {
    const vendor = await misbehaving(capped(false));
    const listed = await vendor.client({ pageSize: 100 }).list();
    expect(listed).toMatchObject({ complete: true });
    expect(listed.rows.map((l) => l.id)).toEqual(ids.map(String));
    // 2 + 2 + 1: the third page is short against the 2 served before. (Stopping only at a page that
    // adds nothing cost a fourth call.)
    expect(pagesAsked(vendor)).toEqual(["1", "2", "3"]);
    expect(vendor.received.every((r) => r.params.get("p_cnt") === "100")).toBe(true);
  });

  it("without p_elems, a first page shorter than p_cnt proves nothing: a second page decides", async () => {
    // The first page could be a vendor's cap; only the empty second page shows it was the whole list.
    const vendor = await misbehaving(capped(false, [101, 102]));
    expect(await vendor.client({ pageSize: 100 }).list()).toMatchObject({ complete: true });
    expect(pagesAsked(vendor)).toEqual(["1", "2"]);
  });

  it("without p_elems, pages that all come full: an empty page ends the list", async () => {
    const vendor = await misbehaving(capped(false, [101, 102, 103, 104]));
    const listed = await vendor.client({ pageSize: 100 }).list();
    expect(listed).toMatchObject({ complete: true });
    expect(listed.rows).toHaveLength(4);
    expect(pagesAsked(vendor)).toEqual(["1", "2", "3"]);
  });

  it("with p_elems, pages capped below p_cnt: stops once the total is read", async () => {
    const vendor = await misbehaving(capped(true));
    const listed = await vendor.client({ pageSize: 100 }).list();
    expect(listed).toMatchObject({ complete: true });
    expect(listed.rows.map((l) => l.id)).toEqual(ids.map(String));
    expect(vendor.count("soft")).toBe(3);
  });

  it("with p_elems, pages that end before the count is reached: not complete", async () => {
    const vendor = await misbehaving(capped(true, ids, 7));
    const listed = await vendor.client({ pageSize: 100 }).list();
    expect(listed.rows).toHaveLength(5);
    expect(listed.complete).toBe(false);
    expect(listed.incomplete).toBe("the vendor counts 7 licences (p_elems) but its pages ended after 5");
    expect(pagesAsked(vendor)).toEqual(["1", "2", "3", "4"]);
  });

  it("with p_elems that changes between pages: not complete, and no page is read after the change", async () => {
    let reads = 0;
    const vendor = await misbehaving((r, res) => capped(true, ids, ++reads === 1 ? 5 : 4)(r, res));
    const listed = await vendor.client({ pageSize: 100 }).list();
    expect(listed).toMatchObject({
      complete: false,
      rows: [{ id: "101" }, { id: "102" }, { id: "103" }, { id: "104" }],
    });
    expect(listed.incomplete).toMatch(
      /count of licences \(p_elems\) changed from 5 to 4 between pages 1 and 2/,
    );
    expect(vendor.count("soft")).toBe(2);
  });

  it("a vendor that ignores p_num and repeats its page: not complete, never a silently short list", async () => {
    const vendor = await misbehaving((_, res) => xml(res, doc("soft", `<elem/>${row(1)}${row(2)}`)));
    const listed = await vendor.client({ pageSize: 2 }).list();
    expect(listed.rows.map((l) => l.id)).toEqual(["1", "2"]);
    expect(listed.complete).toBe(false);
    expect(listed.incomplete).toBe(
      "page 2 of the vendor's list repeats licence 1 of an earlier page: the vendor ignores p_num, or its pages shifted while the list was read",
    );
    expect(vendor.count("soft")).toBe(2);
  });

  it("every page shares the one deadline", async () => {
    const vendor = await misbehaving((r, res) => setTimeout(() => capped(false)(r, res), 150));
    const error = await failure(vendor.client().list({ deadlineMs: Date.now() + 400 }));
    expect(error).toBeInstanceOf(BillmgrTimeoutError);
    expect(vendor.count("soft")).toBeLessThan(4);
  });
});
