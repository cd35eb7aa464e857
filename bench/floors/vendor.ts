import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { Agent } from "../../shared/billmgr/undici.ts";

/**
 * Cold-start floor of a function that calls the vendor: the DynamoDB floor plus what the vendor
 * client cannot do without, imported as `shared/billmgr/transport.ts` and `document.ts` import it:
 * undici's Agent (the transport dispatches to it directly), fast-xml-parser's parser and validator,
 * each constructed.
 */
export const client = new DynamoDBClient({});
export const agent = new Agent({ keepAliveTimeout: 30_000, connections: 32 });
export const parser = new XMLParser({ ignoreAttributes: false });
export const validator = XMLValidator;
