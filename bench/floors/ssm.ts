import { SSMClient } from "@aws-sdk/client-ssm";

/**
 * Cold-start floor of the authorizer: the SSM client it reads its token hashes with, constructed, and
 * nothing else. `bench/bundles.ts` bundles it like a handler.
 */
export const client = new SSMClient({});
