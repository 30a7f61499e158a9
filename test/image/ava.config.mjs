// ava settings for `npm run test:image` alone: its files end in .image.ts, so `npm test`'s
// default glob (test/**/*.test.ts) never picks them up on a machine without buildah.
export default {
  files: ['test/image/**/*.image.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  // The image build alone takes minutes with vfs storage on two cores.
  timeout: '10m',
  concurrency: 1,
  workerThreads: false,
};
