import { SSMProvider } from "@aws-lambda-powertools/parameters/ssm";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { type CredentialsProvider, parseCredentials } from "../domain/ports/credentials.ts";

export interface SsmCredentialsOptions {
  /** Name of the SecureString parameter holding `user:password`. */
  parameterName: string;
  /** How long a read value is trusted before SSM is asked again. */
  maxAgeSeconds: number;
  client?: SSMClient;
}

/**
 * Reads the vendor credentials from a SecureString, decrypted, cached for `maxAgeSeconds`
 * per container (Powertools Parameters), so a warm Lambda does not call SSM on every request.
 */
export function ssmCredentials(options: SsmCredentialsOptions): CredentialsProvider {
  const provider = new SSMProvider(options.client ? { awsSdkV3Client: options.client } : {});
  let forceFetch = false;
  return {
    async get() {
      const value = await provider.get(options.parameterName, {
        decrypt: true,
        maxAge: options.maxAgeSeconds,
        forceFetch,
      });
      forceFetch = false;
      if (typeof value !== "string") {
        throw new Error(`SSM parameter ${options.parameterName} is empty or not a string`);
      }
      return parseCredentials(value, `SSM parameter ${options.parameterName}`);
    },
    refresh() {
      forceFetch = true;
    },
  };
}
