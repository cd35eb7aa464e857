import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
} from "aws-lambda";
import { headerValues, repeatedAuthorization } from "../functions/lib/headers.ts";
import type { Route } from "../shared/api/routes.ts";
import { errorText, log } from "../shared/log.ts";

export type ProxyHandler = (
  event: APIGatewayProxyEvent,
  context: { getRemainingTimeInMillis(): number },
) => Promise<APIGatewayProxyResult>;

/**
 * The API functions' timeout in the stack (below API Gateway's 29 s); locally the same budget applies,
 * and `LOCAL_FUNCTION_TIMEOUT_MS` changes it (tests of the deadline).
 */
const functionTimeoutMs = () => Number(process.env.LOCAL_FUNCTION_TIMEOUT_MS ?? 25_000);
export type Authorizer = (event: APIGatewayRequestAuthorizerEvent) => Promise<APIGatewayAuthorizerResult>;

interface Compiled {
  route: Route;
  pattern: RegExp;
  names: string[];
  handler: ProxyHandler;
}

const MAX_BODY = 1024 * 1024;

/**
 * What API Gateway does in front of the Lambdas, for local runs: match the route, run the
 * REQUEST authorizer, build the REST proxy event, invoke the very same handler module.
 */
export function gateway(
  routes: Array<{ route: Route; handler: ProxyHandler }>,
  authorizer: Authorizer,
): RequestListener {
  const compiled: Compiled[] = routes.map(({ route, handler }) => {
    const names: string[] = [];
    const source = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      names.push(name);
      return "([^/]+)";
    });
    return { route, pattern: new RegExp(`^${source}$`), names, handler };
  });

  return (req: IncomingMessage, res: ServerResponse) => {
    void serve(req, res).catch((error: unknown) => {
      log("ERROR", "local gateway failed", { route: `${req.method} ${req.url}`, error: errorText(error) });
      if (!res.headersSent)
        send(res, 500, { error: { code: "internal_error", message: "local gateway error", details: {} } });
      else res.destroy();
    });
  };

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const candidates = compiled.filter((c) => c.pattern.test(url.pathname));
    const match = candidates.find((c) => c.route.method === req.method);
    if (!match) {
      const status = candidates.length > 0 ? 405 : 404;
      const code = status === 405 ? "method_not_allowed" : "not_found";
      return send(res, status, {
        error: { code, message: `no route ${req.method} ${url.pathname}`, details: {} },
      });
    }
    const body = await readBody(req);
    if (body === undefined) {
      return send(res, 413, {
        error: { code: "payload_too_large", message: "body over 1 MiB", details: {} },
      });
    }
    // As API Gateway (REST) builds them: the last value of a repeated header or parameter alone, and every
    // value in the multi-value twin. (Node's `req.headers` keeps the first `Authorization` of two.)
    const multiValueHeaders = Object.fromEntries(
      Object.entries(req.headersDistinct).flatMap(([name, values]) =>
        values?.length ? [[name, values]] : [],
      ),
    );
    const headers = lastOfEach(multiValueHeaders);
    const multiValueQuery = grouped(url.searchParams);
    const query = url.searchParams.size > 0 ? lastOfEach(multiValueQuery) : null;
    const values = match.pattern.exec(url.pathname)?.slice(1) ?? [];
    const pathParameters = Object.fromEntries(
      match.names.map((n, i) => [n, decodedSegment(values[i] ?? "")]),
    );

    let client: unknown;
    try {
      const decision = await authorizer({
        type: "REQUEST",
        methodArn: `arn:aws:execute-api:local:000000000000:local/local/${req.method}${match.route.path}`,
        resource: match.route.path,
        path: url.pathname,
        httpMethod: req.method ?? "GET",
        headers,
        multiValueHeaders,
        pathParameters,
        queryStringParameters: query,
        multiValueQueryStringParameters: query && multiValueQuery,
        stageVariables: {},
        requestContext: {} as APIGatewayRequestAuthorizerEvent["requestContext"],
      });
      client = decision.context?.client;
    } catch {
      // API Gateway's own answer when the authorizer says "Unauthorized" (its message is only that).
      const authorizations = headerValues({ multiValueHeaders }, "Authorization").length;
      return send(res, 401, {
        error: {
          code: "unauthorized",
          message:
            authorizations > 1
              ? repeatedAuthorization(authorizations)
              : "a valid 'Authorization: Bearer <token>' header is required",
          details: {},
        },
      });
    }

    const text = utf8(body);
    const started = Date.now();
    const timeoutMs = functionTimeoutMs();
    const context = { getRemainingTimeInMillis: () => started + timeoutMs - Date.now() };
    const result = await match.handler(
      {
        resource: match.route.path,
        path: url.pathname,
        httpMethod: req.method ?? "GET",
        headers,
        multiValueHeaders,
        queryStringParameters: query,
        multiValueQueryStringParameters: query && multiValueQuery,
        pathParameters: match.names.length > 0 ? pathParameters : null,
        stageVariables: null,
        // Bytes that are not UTF-8 travel as they came, base64-encoded as API Gateway passes binary: the
        // handler refuses them by name, where decoding them here would turn them into U+FFFD.
        body: body.length === 0 ? null : (text ?? body.toString("base64")),
        isBase64Encoded: text === undefined,
        requestContext: {
          authorizer: { client, principalId: client },
          httpMethod: req.method ?? "GET",
          path: url.pathname,
          resourcePath: match.route.path,
          stage: "local",
          requestId: crypto.randomUUID(),
        } as unknown as APIGatewayProxyEvent["requestContext"],
      },
      context,
    );
    res.writeHead(result.statusCode, result.headers as Record<string, string>);
    res.end(result.body);
  }
}

/**
 * A path segment decoded, or as sent when its `%` escapes are malformed (`%E0%A4%A`): the handler then
 * refuses it with a 400 naming the parameter, after the authorizer has had its say, instead of this
 * gateway failing with a 500 before it.
 */
function decodedSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Each name's values in order; a name repeated (`?a=1&a=2`) keeps them all. */
function grouped(params: URLSearchParams): Record<string, string[]> {
  const all = new Map<string, string[]>();
  for (const [name, value] of params) all.set(name, [...(all.get(name) ?? []), value]);
  // `Object.fromEntries` defines every name as an own property, `__proto__` included, as JSON.parse does
  // for the event API Gateway sends.
  return Object.fromEntries(all);
}

function lastOfEach(multi: Record<string, string[]>): Record<string, string> {
  return Object.fromEntries(Object.entries(multi).map(([name, values]) => [name, values.at(-1) ?? ""]));
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The body as text, or undefined when its bytes are not UTF-8. */
function utf8(body: Buffer): string | undefined {
  try {
    return UTF8.decode(body);
  } catch {
    return undefined;
  }
}

/** The gateway's own answers; like the handlers', never cached by anyone on the way. */
function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
