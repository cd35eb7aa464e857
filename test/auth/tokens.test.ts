import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import type { APIGatewayRequestAuthorizerEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ssmTokenDirectory } from "../../shared/adapters/ssm-tokens.ts";
import { bearerToken, generateToken, hashToken, tokenDirectory } from "../../shared/auth/tokens.ts";
import { readServiceConfig } from "../../shared/config.ts";

const ssm = mockClient(SSMClient);
afterEach(() => {
  ssm.reset();
  vi.unstubAllEnvs();
  vi.resetModules();
});

const TOKEN = "portal-token-0123456789abcdef";

describe("API tokens", () => {
  it("finds the client of a token by its SHA-256 hash", async () => {
    const directory = tokenDirectory(async () => ({
      [hashToken(TOKEN)]: "portal",
      [hashToken(`${TOKEN}x`)]: "scripts",
    }));
    expect(await directory.lookup(TOKEN)).toBe("portal");
    expect(await directory.lookup(`${TOKEN}x`)).toBe("scripts");
    expect(await directory.lookup("guess-0123456789abcdef")).toBeUndefined();
    expect(hashToken("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("reads only well-formed bearer headers, whatever the scheme's case", () => {
    expect(bearerToken(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(bearerToken(`bearer ${TOKEN}`)).toBe(TOKEN);
    expect(bearerToken(`BEARER ${TOKEN}`)).toBe(TOKEN);
    expect(bearerToken(`Bearer  ${TOKEN}`)).toBe(TOKEN);
    expect(bearerToken(`Bearer${TOKEN}`)).toBeUndefined();
    expect(bearerToken(`Bearer ${TOKEN} extra`)).toBeUndefined();
    expect(bearerToken("Bearer short")).toBeUndefined();
    expect(bearerToken(`Basic ${TOKEN}`)).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it("generates tokens that never start with '-' (hex by construction), each one new and accepted", () => {
    const tokens = Array.from({ length: 2000 }, generateToken);
    for (const token of tokens) {
      expect(token).toMatch(/^[0-9a-f]{64}$/);
      expect(bearerToken(`Bearer ${token}`)).toBe(token);
    }
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it("reads the hashes from SSM, cached, decrypted", async () => {
    ssm
      .on(GetParameterCommand)
      .resolves({ Parameter: { Value: JSON.stringify({ [hashToken(TOKEN)]: "portal" }) } });
    const directory = ssmTokenDirectory("/desk/api-tokens", 60);
    expect(await directory.lookup(TOKEN)).toBe("portal");
    expect(await directory.lookup("other-token-0123456789")).toBeUndefined();
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
    expect(ssm.commandCalls(GetParameterCommand)[0]?.args[0].input).toEqual({
      Name: "/desk/api-tokens",
      WithDecryption: true,
    });
  });
});

describe("the REQUEST authorizer", () => {
  const event = (authorization?: string): APIGatewayRequestAuthorizerEvent =>
    ({
      type: "REQUEST",
      methodArn: "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/POST/licenses",
      headers: authorization ? { Authorization: authorization } : {},
    }) as unknown as APIGatewayRequestAuthorizerEvent;

  it("allows the whole stage for a known token, naming the client; refuses anything else", async () => {
    vi.stubEnv("API_TOKENS_PARAM", "/desk/api-tokens");
    ssm
      .on(GetParameterCommand)
      .resolves({ Parameter: { Value: JSON.stringify({ [hashToken(TOKEN)]: "portal" }) } });
    const { handler } = await import("../../functions/authorizer.ts");
    const allowed = await handler(event(`Bearer ${TOKEN}`));
    expect(allowed).toEqual({
      principalId: "portal",
      policyDocument: {
        Version: "2012-10-17",
        Statement: [
          {
            Action: "execute-api:Invoke",
            Effect: "Allow",
            Resource: "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*",
          },
        ],
      },
      context: { client: "portal" },
    });
    expect((await handler(event(`bearer ${TOKEN}`))).principalId).toBe("portal");
    expect((await handler(event(`BEARER ${TOKEN}`))).principalId).toBe("portal");
    await expect(handler(event())).rejects.toThrow("Unauthorized");
    await expect(handler(event("Bearer wrong-token-0123456789abcdef"))).rejects.toThrow("Unauthorized");
  });

  it("refuses two Authorization headers, though `headers` holds only the last (a known token)", async () => {
    vi.stubEnv("API_TOKENS_PARAM", "/desk/api-tokens");
    ssm
      .on(GetParameterCommand)
      .resolves({ Parameter: { Value: JSON.stringify({ [hashToken(TOKEN)]: "portal" }) } });
    const { handler } = await import("../../functions/authorizer.ts");
    const twice = (values: string[]) =>
      ({
        ...event(values.at(-1)),
        multiValueHeaders: { Authorization: values },
      }) as APIGatewayRequestAuthorizerEvent;
    await expect(handler(twice(["Bearer other-token-0123456789abcdef", `Bearer ${TOKEN}`]))).rejects.toThrow(
      "Unauthorized",
    );
    await expect(handler(twice([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]))).rejects.toThrow("Unauthorized");
    expect((await handler(twice([`Bearer ${TOKEN}`]))).principalId).toBe("portal");
  });
});

describe("locally (npm start, the tests): two clients side by side", () => {
  const OPERATOR = "operator-token-0123456789abcdef";
  const event = (token: string): APIGatewayRequestAuthorizerEvent =>
    ({
      type: "REQUEST",
      methodArn: "arn:aws:execute-api:local:000000000000:local/local/GET/outcomes",
      headers: { Authorization: `Bearer ${token}` },
    }) as unknown as APIGatewayRequestAuthorizerEvent;

  it("API_TOKEN is client local, OPERATOR_TOKEN client operator; any other token is refused", async () => {
    vi.stubEnv("API_TOKENS_PARAM", undefined);
    vi.stubEnv("API_TOKEN", TOKEN);
    vi.stubEnv("OPERATOR_TOKEN", OPERATOR);
    const { handler } = await import("../../functions/authorizer.ts");
    expect((await handler(event(TOKEN))).context).toEqual({ client: "local" });
    expect((await handler(event(OPERATOR))).context).toEqual({ client: "operator" });
    await expect(handler(event("wrong-token-0123456789abcdef"))).rejects.toThrow("Unauthorized");
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(0);
  });

  it("one token for both is refused at start: which client calls would be a guess", () => {
    expect(() => readServiceConfig({ API_TOKEN: TOKEN, OPERATOR_TOKEN: TOKEN })).toThrow(
      "invalid configuration: OPERATOR_TOKEN: must differ from API_TOKEN",
    );
    expect(() => readServiceConfig({ OPERATOR_TOKEN: "short" })).toThrow(/OPERATOR_TOKEN/);
  });

  it("OPERATOR_CLIENTS: comma-separated names, trimmed, each once; unset, nobody", () => {
    expect(readServiceConfig({}).OPERATOR_CLIENTS).toEqual([]);
    expect(readServiceConfig({ OPERATOR_CLIENTS: "" }).OPERATOR_CLIENTS).toEqual([]);
    expect(readServiceConfig({ OPERATOR_CLIENTS: " ops , night shift,,ops" }).OPERATOR_CLIENTS).toEqual([
      "ops",
      "night shift",
    ]);
  });
});
