import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { type BuildOptions, build, type Metafile } from "esbuild";
import { lambdaBundling } from "../infra/bundling.ts";
import { routes } from "../shared/api/routes.ts";
import { median } from "./stats.ts";

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const RUNS = 30;
const TOP_PACKAGES = 8;
const GOAL = 1.15;

/** What Lambda gets (the stack's own settings), measured without the source map. */
const LAMBDA_BUILD: BuildOptions = {
  ...lambdaBundling,
  mainFields: [...lambdaBundling.mainFields],
  banner: { js: lambdaBundling.banner },
  sourcemap: false,
  metafile: true,
  logLevel: "error",
};

/**
 * The environment the handlers read at import, as the stack sets it: secrets by SSM parameter name, so
 * each function builds its SSM reader at import as it does in Lambda. Nothing is contacted while importing.
 */
const CHILD_ENV: Record<string, string> = {
  AWS_REGION: "eu-central-1",
  AWS_ACCESS_KEY_ID: "bench",
  AWS_SECRET_ACCESS_KEY: "bench",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  AWS_LAMBDA_FUNCTION_NAME: "bench",
  TABLE_NAME: "bench",
  BILLMGR_URL: "http://127.0.0.1:9/manager/billmgr",
  BILLMGR_CREDENTIALS_PARAM: "/bench/vendor-credentials",
  API_TOKENS_PARAM: "/bench/api-tokens",
};

/** Runs in each fresh node process: the module init time is measured inside it, around the import alone. */
const RUNNER = `const start = performance.now();
await import(process.argv[2]);
process.stdout.write(String(performance.now() - start) + "\\n");
process.exit(0);
`;

type FloorName = "dynamodb" | "ssm" | "vendor";

interface Target {
  name: string;
  entry: string;
  /** The floor it is compared with; floors themselves have none. */
  floor?: FloorName;
}

interface Built extends Target {
  file: string;
  bytes: number;
  /** Bytes in the output per package (`(project)` for our own code). */
  packages: Map<string, number>;
  inits: number[];
}

function packageOf(path: string): string {
  const at = path.lastIndexOf("node_modules/");
  if (at < 0) return "(project)";
  const parts = path.slice(at + "node_modules/".length).split("/");
  return parts[0]?.startsWith("@") ? `${parts[0]}/${parts[1]}` : (parts[0] ?? path);
}

function packageBytes(metafile: Metafile): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const name = packageOf(path);
      sizes.set(name, (sizes.get(name) ?? 0) + input.bytesInOutput);
    }
  }
  return sizes;
}

const kb = (bytes: number) => (bytes / 1024).toFixed(1);
const top = (sizes: Map<string, number>, n: number) =>
  [...sizes]
    .filter(([, bytes]) => bytes > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n);

/**
 * Cold start: each Lambda function bundled as it ships, its size and the time its module takes to
 * initialise in a fresh node process, beside a floor bundle built and timed the same way in the same
 * run: the packages of its own it cannot do without, constructed (`bench/floors/`). The DynamoDB client
 * for the register-only route, the SSM client for the authorizer, and for the vendor routes both plus
 * the vendor client's HTTP and XML libraries.
 */
export async function benchBundles(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "licence-desk-bundles-"));
  try {
    const targets: Target[] = [
      { name: "floor: dynamodb", entry: "bench/floors/dynamodb.ts" },
      { name: "floor: ssm", entry: "bench/floors/ssm.ts" },
      { name: "floor: vendor", entry: "bench/floors/vendor.ts" },
      ...routes.map(
        (route): Target => ({
          name: route.handler,
          entry: `functions/${route.handler}.ts`,
          floor: route.vendor ? "vendor" : "dynamodb",
        }),
      ),
      { name: "authorizer", entry: "functions/authorizer.ts", floor: "ssm" },
    ];

    const built: Built[] = [];
    for (const [i, target] of targets.entries()) {
      const file = join(dir, `${i}-${target.entry.replaceAll("/", "_").replace(/\.ts$/, "")}.mjs`);
      const result = await build({
        ...LAMBDA_BUILD,
        entryPoints: [join(ROOT, target.entry)],
        outfile: file,
      });
      const metafile = result.metafile as Metafile;
      const output = Object.values(metafile.outputs)[0];
      built.push({ ...target, file, bytes: output?.bytes ?? 0, packages: packageBytes(metafile), inits: [] });
    }

    // Fresh processes, round-robin across bundles so drift on a busy machine lands on all alike.
    const runner = join(dir, "runner.mjs");
    await writeFile(runner, RUNNER);
    const once = async (b: Built) => {
      const { stdout } = await run(process.execPath, [runner, pathToFileURL(b.file).href], {
        env: CHILD_ENV,
      });
      b.inits.push(Number(stdout.trim()));
    };
    for (const b of built) await once(b); // a first import of each warms the disk cache; not counted
    for (const b of built) b.inits.length = 0;
    for (let round = 0; round < RUNS; round++) for (const b of built) await once(b);

    const floorOf = (t: Target) => built.find((b) => b.name === `floor: ${t.floor}`);
    const carries = (b: Built, pkg: string) => ((b.packages.get(pkg) ?? 0) > 0 ? "yes" : "no");

    const shipped = built;
    console.log(
      `\ncold start: ${shipped.filter((b) => b.floor).length} functions bundled as Lambda gets them (infra/bundling.ts: esbuild, minified ESM, ` +
        `module-first, node22, SDK bundled, no source map); init = median of ${RUNS} fresh node processes, ` +
        "performance.now() around `await import(bundle)` inside the child; init/floor = median over the rounds " +
        "of each round's ratio",
    );
    const rows = shipped.map((b) => {
      const floor = b.floor ? floorOf(b) : undefined;
      const sizeRatio = floor ? b.bytes / floor.bytes : undefined;
      // Each round imports every bundle once: the ratio of a round's pair, then the median over rounds,
      // so load that drifts between rounds lands on the function and its floor alike.
      const initRatio = floor
        ? median(b.inits.map((init, round) => init / (floor.inits[round] ?? init)))
        : undefined;
      return {
        function: b.name,
        "size KB": kb(b.bytes),
        "init ms": median(b.inits).toFixed(1),
        floor: b.floor ?? "",
        "size/floor": sizeRatio?.toFixed(2) ?? "",
        "init/floor": initRatio?.toFixed(2) ?? "",
        [`<= ${GOAL}x`]:
          sizeRatio === undefined || initRatio === undefined
            ? ""
            : sizeRatio <= GOAL && initRatio <= GOAL
              ? "ok"
              : "OVER GOAL",
        undici: carries(b, "undici"),
        "fast-xml-parser": carries(b, "fast-xml-parser"),
        "client-ssm": carries(b, "@aws-sdk/client-ssm"),
      };
    });
    console.table(rows);
    for (const b of shipped.filter((s) => s.floor !== undefined && s.floor !== "vendor")) {
      const wrong = ["undici", "fast-xml-parser"].filter((pkg) => carries(b, pkg) === "yes");
      console.log(
        `${b.name} never calls the vendor: ${wrong.length === 0 ? "carries neither undici nor fast-xml-parser" : `CARRIES ${wrong.join(" and ")}`}`,
      );
    }

    console.log(`\ntop ${TOP_PACKAGES} packages per bundle, KB in the minified output`);
    for (const b of shipped) {
      console.log(
        `  ${b.name}: ${top(b.packages, TOP_PACKAGES)
          .map(([pkg, bytes]) => `${pkg} ${kb(bytes)}`)
          .join(", ")}`,
      );
    }

    console.log("\nbeyond the floor: KB a function carries that its floor does not, by package (top 6)");
    for (const b of shipped.filter((s) => s.floor)) {
      const floor = floorOf(b);
      if (!floor) continue;
      const extra = new Map<string, number>();
      for (const [pkg, bytes] of b.packages) extra.set(pkg, bytes - (floor.packages.get(pkg) ?? 0));
      console.log(
        `  ${b.name} (+${kb(b.bytes - floor.bytes)}): ${top(extra, 6)
          .map(([pkg, bytes]) => `${pkg} ${kb(bytes)}`)
          .join(", ")}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
