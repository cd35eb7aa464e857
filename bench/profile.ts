import { Session } from "node:inspector/promises";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Self time by whose code ran: a package, a folder of this project, node's own, the collector. */
  byOwner: Array<{ owner: string; ms: number }>;
  /** The functions with the most self time. */
  top: Array<{ fn: string; owner: string; ms: number }>;
}

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/**
 * Runs `work` under V8's sampling CPU profiler (this process, every `intervalUs`) and sums each
 * sample's time to the function that was running and to its owner. Everything here runs on one
 * thread, so the owners share out the whole wall time: the watcher, the SDK, dynalite, the sandbox.
 */
export async function profiled<T>(
  work: () => Promise<T>,
  intervalUs = 500,
): Promise<{ result: T; summary: ProfileSummary }> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: intervalUs });
  await session.post("Profiler.start");
  let result: T;
  let profile: Profile;
  try {
    result = await work();
  } finally {
    ({ profile } = (await session.post("Profiler.stop")) as { profile: Profile });
    session.disconnect();
  }
  return { result, summary: summarise(profile) };
}

function summarise(profile: Profile): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const owners = new Map<string, number>();
  const functions = new Map<string, { owner: string; ms: number }>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let totalMs = 0;
  for (let i = 0; i < samples.length; i++) {
    // A sample's time is the gap to the next one.
    const ms = (deltas[i + 1] ?? 0) / 1000;
    const node = byId.get(samples[i] as number);
    if (!node) continue;
    totalMs += ms;
    const owner = ownerOf(node.callFrame);
    owners.set(owner, (owners.get(owner) ?? 0) + ms);
    const fn = `${node.callFrame.functionName || "(anonymous)"} ${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
    const entry = functions.get(fn) ?? { owner, ms: 0 };
    entry.ms += ms;
    functions.set(fn, entry);
  }
  return {
    totalMs,
    byOwner: [...owners].map(([owner, ms]) => ({ owner, ms })).sort((a, b) => b.ms - a.ms),
    top: [...functions]
      .map(([fn, { owner, ms }]) => ({ fn, owner, ms }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 25),
  };
}

const OWNERS: Array<[RegExp, string]> = [
  [/^(@aws-sdk|@smithy|@aws-crypto|tslib|bowser|uuid)$/, "AWS SDK"],
  [
    /^(dynalite|level.*|memdown|abstract-leveldown|.*-leveldown|lazy|async|lock|minimist|big\.js|buffer-crc32|once|subleveldown|deferred-leveldown|encoding-down|levelup|functional-red-black-tree|memory-level|abstract-level|level-transcoder|module-error|catering|queue-microtask|run-parallel-limit|maybe-combine-errors|level-supports|napi-macros|node-gyp-build)$/,
    "dynalite (the engine)",
  ],
  [/^undici$/, "undici (HTTP)"],
  [/^fast-xml-parser$|^strnum$/, "fast-xml-parser"],
  [/^valibot$/, "valibot"],
];

function ownerOf(frame: ProfileNode["callFrame"]): string {
  const { url, functionName } = frame;
  if (url === "") {
    if (functionName === "(garbage collector)") return "garbage collection";
    if (functionName === "(idle)") return "idle (waiting)";
    if (functionName === "(program)") return "V8 / native (program)";
    return "V8 / native builtins";
  }
  if (url.startsWith("node:")) return "node internals (http, streams, timers)";
  const modules = url.lastIndexOf("/node_modules/");
  if (modules >= 0) {
    const rest = url.slice(modules + "/node_modules/".length).split("/");
    const name = rest[0]?.startsWith("@") ? `${rest[0]}` : (rest[0] ?? "?");
    for (const [pattern, owner] of OWNERS) if (pattern.test(name)) return owner;
    return `package ${name}`;
  }
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  if (path.startsWith(ROOT)) {
    const relative = path.slice(ROOT.length);
    if (relative.startsWith("shared/adapters/")) return `${relative.split("/").slice(0, 3).join("/")}/`;
    if (relative.startsWith("shared/domain/night/")) return "shared/domain/night/";
    if (relative.startsWith("shared/domain/")) return "shared/domain/ (other)";
    return `${relative.split("/")[0]}/`;
  }
  return path;
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf("/node_modules/");
  if (modules >= 0) return url.slice(modules + "/node_modules/".length);
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  return path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
}
