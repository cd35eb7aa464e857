import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SSMClient } from "@aws-sdk/client-ssm";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { Agent } from "../../shared/adapters/billmgr/undici.ts";

/**
 * Cold-start floor of a function that calls the vendor: the DynamoDB floor, the SSM client its vendor
 * credentials come from, and what the vendor client cannot do without, imported as
 * `shared/adapters/billmgr/transport.ts` and `document.ts` import it: undici's Agent (the transport dispatches to
 * it directly), fast-xml-parser's parser and validator; each constructed.
 */
export const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
export const ssm = new SSMClient({});
export const agent = new Agent({ keepAliveTimeout: 30_000, connections: 32 });
export const parser = new XMLParser({ ignoreAttributes: false });
export const validator = XMLValidator;
