// ava configuration for the resilience scenarios (`npm run test:resilience`): their files are
// named *.resilience.ts so that `npm test`'s glob (test/**/*.test.ts) never picks them up.
// One file at a time: each scenario measures timing on the machine's shared cores.
export default {
  files: ['test/resilience/**/*.resilience.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  timeout: '120s',
  concurrency: 1,
  workerThreads: false,
  environmentVariables: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
};
