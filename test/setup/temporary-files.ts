import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * vitest globalSetup: gives the run a temporary directory of its own and fails the run if anything is
 * left in it at the end. Test files and the processes they spawn inherit TMPDIR, so `os.tmpdir()` points
 * here; other runs on the same machine (their files come and go meanwhile) cannot make this check flaky.
 * The directory is removed either way, so a leak fails the run without littering the machine.
 */

/** tsx's compile cache (`tsx-<uid>`, made by every `npm start` a test spawns): a cache, not a leak. */
const CACHES = /^tsx-\d+$/;

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "licence-desk-test-run-"));
  process.env.TMPDIR = dir;
  return () => {
    const left = readdirSync(dir).filter((name) => !CACHES.test(name));
    rmSync(dir, { recursive: true, force: true });
    if (left.length > 0) {
      // A throw here is only printed by vitest (exit code 0); the exit code is what CI reads.
      console.error(
        `npm test left ${left.length} temporary entr${left.length === 1 ? "y" : "ies"} behind ` +
          `(each test must remove what it creates): ${left.sort().join(", ")}`,
      );
      process.exitCode = 1;
    }
  };
}
