import { Agent, request } from "undici";
import { startSandbox } from "../sandbox/server.ts";
import { parseAnswer } from "../shared/adapters/billmgr/document.ts";
import { billingClientFromConfig } from "../shared/adapters/billmgr/index.ts";
import { formTarget, postForm } from "../shared/adapters/billmgr/undici.ts";
import { readBillmgrConfig } from "../shared/config.ts";
import { median, ms, p99 } from "./stats.ts";

const CREDENTIALS = "bench:bench-password";
const CALLS = 2_000;
const WARMUP = 200;
const CONCURRENCY = 8;

/**
 * The vendor client's checkip beside the same form POST sent with raw undici, against one
 * in-process sandbox in the same run, so the ratio is the client's own overhead
 * (form building, credentials, the whole-answer check and parsing, error mapping), less what its
 * own HTTP exchange saves over undici's `request()` (no response stream). Two info rows split the two:
 * the client's exchange alone (`postForm`), and raw undici plus reading the XML.
 */
export async function benchClient(): Promise<void> {
  const sandbox = await startSandbox({ credentials: CREDENTIALS, now: new Date("2021-03-01") });
  const config = readBillmgrConfig({ BILLMGR_URL: sandbox.url, BILLMGR_CREDENTIALS: CREDENTIALS });
  const client = billingClientFromConfig(config);
  const raw = new Agent({ keepAliveTimeout: 30_000, connections: 32 });
  const form = new URLSearchParams({
    ip: "82.156.37.16",
    pricelist: "3541",
    period: "1",
    func: "soft.checkip",
    out: "xml",
    authinfo: CREDENTIALS,
  }).toString();

  const viaClient = async () => {
    const answer = await client.checkIp({ ip: "82.156.37.16", pricelist: "3541", period: 1 });
    if (!answer.available) throw new Error("bench IP should be free");
  };
  const post = async () => {
    const response = await request(sandbox.url, {
      method: "POST",
      dispatcher: raw,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form,
    });
    return response.body.text();
  };
  const viaRaw = async () => {
    if (!(await post()).includes("<ok")) throw new Error("unexpected sandbox answer");
  };
  // Shows how much of the client's overhead is reading the vendor's XML.
  const viaRawParsed = async () => {
    if (!parseAnswer(await post(), "xml").ok) throw new Error("unexpected sandbox answer");
  };
  const target = formTarget(sandbox.url);
  const viaExchange = async () => {
    if (!(await postForm(raw, target, form, 30_000)).body.includes("<ok")) {
      throw new Error("unexpected sandbox answer");
    }
  };

  try {
    for (let i = 0; i < WARMUP; i++) {
      await viaRaw();
      await viaClient();
    }
    // Raw and client calls alternate one by one, so drift on a noisy machine lands on both alike.
    const samples = {
      client: [] as number[],
      raw: [] as number[],
      parsed: [] as number[],
      exchange: [] as number[],
    };
    const timed = async (into: number[], call: () => Promise<void>) => {
      const start = performance.now();
      await call();
      into.push(performance.now() - start);
    };
    for (let i = 0; i < CALLS; i++) {
      await timed(samples.raw, viaRaw);
      await timed(samples.parsed, viaRawParsed);
      await timed(samples.exchange, viaExchange);
      await timed(samples.client, viaClient);
    }

    const throughput = async (call: () => Promise<void>) => {
      const start = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          for (let i = 0; i < CALLS / CONCURRENCY; i++) await call();
        }),
      );
      return CALLS / ((performance.now() - start) / 1000);
    };
    const rawRate = await throughput(viaRaw);
    const clientRate = await throughput(viaClient);

    console.log(
      `\nvendor client: ${CALLS} sequential checkip calls each way, then ${CONCURRENCY}-way concurrent`,
    );
    console.table([
      {
        path: "raw undici POST",
        median: ms(median(samples.raw)),
        p99: ms(p99(samples.raw)),
        "calls/s (8-way)": rawRate.toFixed(0),
      },
      {
        path: "raw POST + XML read",
        median: ms(median(samples.parsed)),
        p99: ms(p99(samples.parsed)),
        "calls/s (8-way)": "",
      },
      {
        path: "(info) client's exchange alone",
        median: ms(median(samples.exchange)),
        p99: ms(p99(samples.exchange)),
        "calls/s (8-way)": "",
      },
      {
        path: "client.checkIp",
        median: ms(median(samples.client)),
        p99: ms(p99(samples.client)),
        "calls/s (8-way)": clientRate.toFixed(0),
      },
    ]);
    const ratio = median(samples.client) / median(samples.raw);
    console.log(
      `median ratio client/raw: ${ratio.toFixed(3)} (goal <= 1.10) ${ratio <= 1.1 ? "ok" : "OVER GOAL"}`,
    );
    console.log(`p99 ratio client/raw: ${(p99(samples.client) / p99(samples.raw)).toFixed(3)}`);
    console.log(
      `(info) median ratio client/its own exchange: ${(median(samples.client) / median(samples.exchange)).toFixed(3)}`,
    );
    console.log(`8-way throughput ratio client/raw: ${(clientRate / rawRate).toFixed(3)}`);
  } finally {
    await raw.close();
    await sandbox.close();
  }
}
