import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

/** What every test file runs with. */
const common = {
  setupFiles: ["test/setup/capture-output.ts"],
  testTimeout: 20_000,
  env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
};

export default defineConfig({
  test: {
    // The root's global setup runs once for both projects: one temporary directory, one DynamoDB Local.
    globalSetup: ["test/setup/temporary-files.ts", "test/setup/dynamodb-local.ts"],
    // Most files wait on sockets, DynamoDB Local and the sandbox more than they compute: two at a time
    // even on two cores (vitest's default there is one).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      {
        test: {
          ...common,
          name: "desk",
          include: ["test/**/*.test.ts"],
          exclude: ["test/infra/**"],
        },
      },
      {
        // The CDK stack's tests only read what they synthesize: the files of one worker share its modules,
        // so aws-cdk-lib is loaded, and the shipped stack synthesized (support.ts), once per worker.
        test: { ...common, name: "infra", include: ["test/infra/**/*.test.ts"], isolate: false },
      },
    ],
  },
});
