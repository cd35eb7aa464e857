import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { Agent, request } from "undici";
import { LOCAL_AWS_ENV } from "../local/aws-env.ts";
import { startDynalite } from "../local/dynalite.ts";
import { startLocalApi } from "../local/server.ts";
import { startSandbox } from "../sandbox/server.ts";
import { billingClientFromConfig } from "../shared/adapters/billmgr/index.ts";
import { readBillmgrConfig } from "../shared/config.ts";
import { median, ms, p99 } from "./stats.ts";

const CREDENTIALS = "bench:bench-password";
const TOKEN = "bench-token-0123456789abcdef";
const TABLE = "bench";
const IP = "82.156.37.16";
const PRODUCT = { id: "ispmanager5-lite", pricelist: "3541" };
const CALLS = 1_000;
/** The calls are cut into rounds, each with its own overhead figure, so one run shows its own spread. */
const ROUNDS = 5;
const WARMUP = 200;
const GOAL_MS = 1;

/**
 * The request path: `GET /ip-availability` through real HTTP into the local gateway, the very
 * handler and authorizer modules Lambda runs, the vendor sandbox and dynalite, beside what the
 * route cannot avoid, measured in the same run and interleaved call by call: the vendor client's
 * own `checkIp` on the same sandbox, and one raw PutItem (the route's one audit entry) on the same
 * dynalite. The difference is what the handler, the authorizer and the local hop add.
 */
export async function benchApi(): Promise<void> {
  const dynamo = await startDynalite();
  const sandbox = await startSandbox({ credentials: CREDENTIALS, now: new Date("2021-05-01") });
  const env = {
    ...LOCAL_AWS_ENV,
    TABLE_NAME: TABLE,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    BILLMGR_URL: sandbox.url,
    BILLMGR_CREDENTIALS: CREDENTIALS,
    API_TOKEN: TOKEN,
    NOW: "2021-05-01",
  };
  const api = await startLocalApi({ port: 0, env });
  const vendor = billingClientFromConfig(
    readBillmgrConfig({ BILLMGR_URL: sandbox.url, BILLMGR_CREDENTIALS: CREDENTIALS }),
  );
  const dynamodb = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: "local",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  // Informational: a loopback HTTP round trip to an empty node:http server, the part of the
  // overhead that API Gateway, not the function, pays in AWS.
  const empty = createServer({ keepAliveTimeout: 30_000 }, (_req, res) => res.end("{}"));
  await new Promise<void>((resolve) => empty.listen(0, "127.0.0.1", resolve));
  const emptyUrl = `http://127.0.0.1:${(empty.address() as AddressInfo).port}/`;
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 8 });

  const routeUrl = `${api.url}/ip-availability?ip=${IP}&product=${PRODUCT.id}&period=1`;
  const viaRoute = async () => {
    const response = await request(routeUrl, {
      method: "GET",
      dispatcher: agent,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const body = await response.body.text();
    if (response.statusCode !== 200 || !body.includes('"available":true'))
      throw new Error(`unexpected answer ${response.statusCode} ${body}`);
  };
  const viaClient = async () => {
    const answer = await vendor.checkIp({ ip: IP, pricelist: PRODUCT.pricelist, period: 1 });
    if (!answer.available) throw new Error("bench IP should be free");
  };
  // The audit entry the route writes (shared/adapters/dynamodb/audit-log.ts), marshalled by hand.
  const putItem = async () => {
    const at = new Date().toISOString();
    await dynamodb.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          pk: { S: "AUDIT#none" },
          sk: { S: `${at}#${randomBytes(8).toString("hex")}` },
          at: { S: at },
          client: { S: "local" },
          operation: { S: "check-ip" },
          params: { M: { ip: { S: IP }, product: { S: PRODUCT.id }, period: { N: "1" } } },
          outcome: { S: "ok" },
          durationMs: { N: "0" },
        },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  };
  const hop = async () => {
    const response = await request(emptyUrl, { method: "GET", dispatcher: agent });
    await response.body.text();
  };

  try {
    for (let i = 0; i < WARMUP; i++) {
      await viaRoute();
      await viaClient();
      await putItem();
      await hop();
    }
    const samples = {
      route: [] as number[],
      client: [] as number[],
      put: [] as number[],
      hop: [] as number[],
    };
    const timed = async (into: number[], call: () => Promise<void>) => {
      const start = performance.now();
      await call();
      into.push(performance.now() - start);
    };
    const overheadOf = (route: number[], client: number[], put: number[]) =>
      median(route) - (median(client) + median(put));
    const rounds: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const from = samples.route.length;
      for (let i = 0; i < CALLS / ROUNDS; i++) {
        await timed(samples.route, viaRoute);
        await timed(samples.client, viaClient);
        await timed(samples.put, putItem);
        await timed(samples.hop, hop);
      }
      rounds.push(overheadOf(samples.route.slice(from), samples.client.slice(from), samples.put.slice(from)));
    }

    const floor = median(samples.client) + median(samples.put);
    const overhead = median(samples.route) - floor;
    console.log(
      `\nrequest path: ${CALLS} sequential GET /ip-availability through the local API (authorizer, handler, ` +
        "vendor sandbox, dynalite), interleaved call by call with its floors",
    );
    console.table([
      { path: "GET /ip-availability", median: ms(median(samples.route)), p99: ms(p99(samples.route)) },
      { path: "floor: client.checkIp", median: ms(median(samples.client)), p99: ms(p99(samples.client)) },
      {
        path: "floor: raw PutItem (1 audit entry)",
        median: ms(median(samples.put)),
        p99: ms(p99(samples.put)),
      },
      {
        path: "floor: checkIp + PutItem",
        median: ms(floor),
        p99: ms(p99(samples.client) + p99(samples.put)),
      },
      { path: "(info) empty HTTP round trip", median: ms(median(samples.hop)), p99: ms(p99(samples.hop)) },
    ]);
    console.log(
      `overhead beyond the floors: ${ms(overhead)} median (goal <= ${GOAL_MS} ms) ${overhead <= GOAL_MS ? "ok" : "OVER GOAL"}; ` +
        `${ms(overhead - median(samples.hop))} of it beyond an empty HTTP round trip`,
    );
    console.log(`median ratio route/floor: ${(median(samples.route) / floor).toFixed(3)}`);
    console.log(
      `overhead per round of ${CALLS / ROUNDS}: ${rounds.map((r) => r.toFixed(3)).join(", ")} ms ` +
        `(spread ${Math.min(...rounds).toFixed(3)}-${Math.max(...rounds).toFixed(3)} ms, median ${ms(median(rounds))})`,
    );
  } finally {
    await agent.close();
    dynamodb.destroy();
    await new Promise<void>((resolve) => {
      empty.closeAllConnections();
      empty.close(() => resolve());
    });
    await api.close();
    await sandbox.close();
    await dynamo.close();
  }
}
