import { SSMProvider } from "@aws-lambda-powertools/parameters/ssm";
import { type TokenDirectory, tokenDirectory } from "../auth/tokens.ts";

/**
 * Token hashes from an SSM parameter holding `{"<sha256 hex>": "<client name>", …}`,
 * cached per container for `maxAgeSeconds` so a rotation reaches every container within that time.
 */
export function ssmTokenDirectory(parameterName: string, maxAgeSeconds: number): TokenDirectory {
  const provider = new SSMProvider();
  return tokenDirectory(async () => {
    const value = await provider.get(parameterName, {
      decrypt: true,
      maxAge: maxAgeSeconds,
      transform: "json",
    });
    if (typeof value !== "object" || value === null)
      throw new Error(`SSM parameter ${parameterName} must hold a JSON object`);
    return value as Record<string, string>;
  });
}
