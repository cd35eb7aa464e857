import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEvent } from "aws-lambda";
import { request } from "undici";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../functions/lib/http.ts";
import { gateway } from "../../local/gateway.ts";
import { routes } from "../../shared/api/routes.ts";
import { registerSecret } from "../../shared/redact.ts";

/** A 500 is a bug: each one leaves one structured log line saying what failed, and never a secret. */

const SECRET = "hunter2-vendor-password";
registerSecret(SECRET);

afterEach(() => {
  vi.restoreAllMocks();
});

function logLines(spy: { mock: { calls: unknown[][] } }): Array<Record<string, unknown>> {
  return spy.mock.calls.map((args) => JSON.parse(String(args[0])) as Record<string, unknown>);
}

describe("every 500 is logged", () => {
  it("a handler's unexpected error: 500 internal_error, one line with the error and where it came from", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const handler = api(async () => {
      throw new TypeError(`cannot read the licence (login ${SECRET})`);
    });
    const event = {
      httpMethod: "GET",
      resource: "/licenses/{id}",
      headers: {},
      requestContext: { authorizer: { client: "portal" } },
    } as unknown as APIGatewayProxyEvent;
    const answer = await handler(event);
    expect(answer.statusCode).toBe(500);
    expect(answer.headers?.["cache-control"]).toBe("no-store");
    expect(JSON.parse(answer.body).error).toEqual({
      code: "internal_error",
      message: "an internal error occurred; it has been logged",
      details: {},
    });
    const lines = logLines(errors);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "ERROR",
      route: "GET /licenses/{id}",
      code: "internal_error",
      error: "TypeError: cannot read the licence (login [redacted])",
    });
    expect(String(lines[0]?.stack)).toMatch(/failures-logged\.test\.ts/);
    expect(JSON.stringify(lines)).not.toContain(SECRET);
    expect(answer.body).not.toContain(SECRET);
  });

  it("the local gateway's own failure: 500, no-store, one line", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const route = routes.find((r) => r.handler === "get-licence");
    if (!route) throw new Error("no get-licence route");
    const listener = gateway(
      [
        {
          route,
          handler: async () => {
            throw new Error(`the handler module failed to load (${SECRET})`);
          },
        },
      ],
      async () => ({
        principalId: "local",
        policyDocument: { Version: "", Statement: [] },
        context: { client: "local" },
      }),
    );
    const server = createServer(listener);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const answer = await request(`http://127.0.0.1:${port}/licenses/1`);
      const body = await answer.body.text();
      expect(answer.statusCode).toBe(500);
      expect(answer.headers["cache-control"]).toBe("no-store");
      expect(JSON.parse(body).error.code).toBe("internal_error");
      const lines = logLines(errors);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        level: "ERROR",
        route: "GET /licenses/1",
        error: "Error: the handler module failed to load ([redacted])",
      });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
