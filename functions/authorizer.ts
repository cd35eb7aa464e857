import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from "aws-lambda";
import { ssmTokenDirectory } from "../shared/adapters/ssm-tokens.ts";
import { bearerToken, hashToken, type TokenDirectory, tokenDirectory } from "../shared/auth/tokens.ts";
import { config } from "./lib/config.ts";
import { headerValues } from "./lib/headers.ts";

/**
 * Token hashes from SSM in AWS; locally API_TOKEN as client `local` and OPERATOR_TOKEN as client
 * `operator` (an operator only where OPERATOR_CLIENTS names it, as in AWS).
 */
function directory(): TokenDirectory {
  if (config.API_TOKENS_PARAM)
    return ssmTokenDirectory(config.API_TOKENS_PARAM, config.API_TOKENS_TTL_SECONDS);
  const hashes: Record<string, string> = {};
  if (config.API_TOKEN) hashes[hashToken(config.API_TOKEN)] = "local";
  if (config.OPERATOR_TOKEN) hashes[hashToken(config.OPERATOR_TOKEN)] = "operator";
  return tokenDirectory(async () => hashes);
}

const tokens = directory();

/**
 * API Gateway REQUEST authorizer (and the local server's, the very same code): a known bearer
 * token allows the whole API, and the client's name travels to the handlers for the audit trail.
 * API Gateway answers 401 when this throws "Unauthorized".
 */
export async function handler(event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  // `headers` holds only the last of two `Authorization` headers; a proxy in front may have read the
  // first. Two claims of who is calling are no claim: neither is taken.
  const authorizations = headerValues(event, "Authorization");
  const token = authorizations.length === 1 ? bearerToken(authorizations[0]) : undefined;
  const client = token ? await tokens.lookup(token) : undefined;
  if (!client) throw new Error("Unauthorized");
  // The policy is cached per token: allow every route of this stage, not just the one asked.
  const [arnBase, stage] = event.methodArn.split("/");
  return {
    principalId: client,
    policyDocument: {
      Version: "2012-10-17",
      Statement: [{ Action: "execute-api:Invoke", Effect: "Allow", Resource: `${arnBase}/${stage}/*` }],
    },
    context: { client },
  };
}
