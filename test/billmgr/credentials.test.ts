import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { ssmCredentials } from "../../shared/adapters/ssm-credentials.ts";
import { parseCredentials, staticCredentials } from "../../shared/domain/ports/credentials.ts";
import { redact, redactError } from "../../shared/redact.ts";
import { expectNoSecret, VENDOR_CREDENTIALS, VENDOR_PASSWORD } from "../support/secrets.ts";

const ssm = mockClient(SSMClient);
afterEach(() => ssm.reset());

describe("vendor credentials", () => {
  it("splits user:password at the first colon, so passwords may hold colons", () => {
    expect(parseCredentials("u:a:b", "test")).toEqual({ user: "u", password: "a:b" });
  });

  it.each(["", "nocolon", ":pw", "alice:"])("refuses %j without echoing it", (value) => {
    const error = (() => {
      try {
        parseCredentials(value, "BILLMGR_CREDENTIALS");
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(/BILLMGR_CREDENTIALS must hold "user:password"/);
    if (value) expect(error?.message).not.toContain(value);
  });

  it("static credentials come from the environment value", async () => {
    await expect(staticCredentials(VENDOR_CREDENTIALS).get()).resolves.toEqual({
      user: "reseller",
      password: VENDOR_PASSWORD,
    });
  });

  it("reads the SecureString decrypted, once per TTL, and again after refresh", async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: VENDOR_CREDENTIALS } });
    const provider = ssmCredentials({
      parameterName: "/desk/billmgr",
      maxAgeSeconds: 300,
      client: new SSMClient({ region: "eu-west-1" }),
    });
    await provider.get();
    await provider.get();
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
    expect(ssm.commandCalls(GetParameterCommand)[0]?.args[0].input).toEqual({
      Name: "/desk/billmgr",
      WithDecryption: true,
    });

    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: "reseller:rotated-password" } });
    provider.refresh();
    await expect(provider.get()).resolves.toEqual({ user: "reseller", password: "rotated-password" });
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it("a malformed parameter fails naming the parameter, not its value", async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: `no-colon-${VENDOR_PASSWORD}` } });
    const provider = ssmCredentials({
      parameterName: "/desk/broken",
      maxAgeSeconds: 0,
      client: new SSMClient({ region: "eu-west-1" }),
    });
    const error = await provider.get().catch((e: unknown) => e);
    expect(String(error)).toMatch(/SSM parameter \/desk\/broken must hold/);
    expectNoSecret(error);
  });
});

describe("redaction", () => {
  it("scrubs a registered password in raw, URL and form encodings, in errors and their causes", () => {
    parseCredentials(VENDOR_CREDENTIALS, "test");
    const forms = [
      VENDOR_PASSWORD,
      encodeURIComponent(VENDOR_PASSWORD),
      new URLSearchParams({ p: VENDOR_PASSWORD }).toString().slice(2),
    ];
    for (const form of forms)
      expect(redact(`authinfo=reseller:${form}&x=1`)).toBe("authinfo=reseller:[redacted]&x=1");
    const error = redactError(new Error(`outer ${forms[1]}`, { cause: new Error(`inner ${forms[2]}`) }));
    expectNoSecret(error);
    expect(error.message).toBe("outer [redacted]");
  });
});
