// ava settings for `npm run test:large` alone: its files end in .large.ts, so `npm test`'s
// glob (test/**/*.test.ts) never picks them up. They synthesize a >= 1 GiB model (cached in
// LARGE_MODEL_DIR, else node_modules/.cache) and run the service on it with four copies resident (~4.5 GB).
export default {
  files: ['test/large/**/*.large.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  timeout: '5m',
  concurrency: 1,
  workerThreads: false,
  environmentVariables: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
};
