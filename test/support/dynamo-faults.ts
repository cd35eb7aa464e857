import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";

/** One kind of DynamoDB request to fail: its operation, and text its body must contain. */
export interface DynamoFault {
  /** `PutItem`, `UpdateItem`, … */
  operation: string;
  /** Substrings the request's JSON must all contain (a key prefix such as `AUDIT#`, a value). */
  contains?: string[];
  /** How many matching requests fail; Infinity until cleared. */
  count: number;
}

/**
 * A real-HTTP proxy in front of DynamoDB Local that answers chosen requests with DynamoDB's own
 * throttling error, so the desk's register writes can fail exactly where a test says (the SDK and the
 * desk retry them as they would in AWS).
 */
export async function dynamoFaultProxy(target: string) {
  const faults: DynamoFault[] = [];
  let failed = 0;
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const operation = String(req.headers["x-amz-target"] ?? "").split(".")[1] ?? "";
      const text = body.toString("utf8");
      const fault = faults.find(
        (f) =>
          f.count > 0 && f.operation === operation && (f.contains ?? []).every((part) => text.includes(part)),
      );
      if (fault) {
        fault.count--;
        failed++;
        res.writeHead(400, { "content-type": "application/x-amz-json-1.0" });
        res.end(
          JSON.stringify({
            __type: "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            message: "The level of configured provisioned throughput for the table was exceeded",
          }),
        );
        return;
      }
      const forward = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 500, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on("error", () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    fail(fault: DynamoFault) {
      faults.push({ ...fault });
    },
    clear() {
      faults.length = 0;
    },
    /** Requests answered with a failure so far. */
    get failed() {
      return failed;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
