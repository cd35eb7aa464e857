/**
 * How every Lambda function is bundled (esbuild): one minified ESM file, the AWS SDK inside, the
 * packages' ES-module builds first (their CommonJS builds are 35-40% larger). The CDK stack and
 * `npm run bench` both build with these, so the benchmark measures what ships.
 */
export const lambdaBundling = {
  bundle: true,
  minify: true,
  format: "esm",
  platform: "node",
  target: "node22",
  mainFields: ["module", "main"],
  // CommonJS dependencies (undici, parts of the SDK) call require(); an ES module has none of its own.
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
} as const;
