// The `helm test` pod's check, run for real: the command and env the chart renders for the test
// pod are executed here with this machine's node, against the real service started with the
// environment the chart renders for the Deployment (bundled model, ports chosen free here).
// Only the Service's DNS name is replaced by 127.0.0.1, since there is no cluster DNS here.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startService, type RunningService } from '../helpers/service.js';
import { findOne, renderChart, RELEASE } from './chart-helm.js';
import { freePort } from '../helpers/fixtures.js';

interface EnvEntry {
  name: string;
  value?: string;
}
interface TestPod {
  spec: { containers: { command: string[]; env: EnvEntry[] }[] };
}

interface Rendered {
  readonly serviceEnv: Record<string, string>;
  readonly testCommand: string[];
  readonly testEnv: Record<string, string>;
}

async function renderForHere(extra: readonly string[]): Promise<Rendered> {
  const [http, management] = [await freePort(), await freePort()];
  const manifests = await renderChart(4, [
    '--set',
    `containerPorts.http=${http}`,
    '--set',
    `service.port=${http}`,
    '--set',
    `containerPorts.management=${management}`,
    '--set',
    `service.managementPort=${management}`,
    ...extra,
  ]);
  const serviceEnv = { ...(findOne(manifests, 'ConfigMap') as { data: Record<string, string> }).data };
  const pod = findOne(manifests, 'Pod') as unknown as TestPod;
  const container = pod.spec.containers[0];
  if (container === undefined) throw new Error('the test pod has no container');
  const host = `${RELEASE}-fasttext-edge`;
  const testEnv: Record<string, string> = {};
  // The traffic Service and the management Service (<fullname>-management) are both this machine here.
  for (const { name, value } of container.env) {
    testEnv[name] = (value ?? '')
      .replace(`http://${host}-management:`, 'http://127.0.0.1:')
      .replace(`http://${host}:`, 'http://127.0.0.1:');
  }
  return { serviceEnv, testCommand: container.command, testEnv };
}

interface TestRun {
  readonly code: number | null;
  readonly output: string;
}

/** Runs the test pod's command (node -e <script>) with its env; killed by pid at the deadline. */
function runTestPod(rendered: Rendered, deadlineMs: number): Promise<TestRun> {
  const [command, ...args] = rendered.testCommand;
  if (command !== 'node') throw new Error(`the test pod runs ${String(command)}, not node`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH ?? '', ...rendered.testEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

async function withService<T>(
  rendered: Rendered,
  overrides: Record<string, string>,
  body: (service: RunningService) => Promise<T>,
): Promise<T> {
  const cacheDir = await mkdtemp(path.join(tmpdir(), 'chart-helm-test-'));
  // The chart's settings, with the cache in a temp dir instead of the pod's emptyDir mount.
  const service = await startService({
    env: { ...rendered.serviceEnv, HOST: '127.0.0.1', MODEL_CACHE_DIR: cacheDir, ...overrides },
  });
  try {
    return await body(service);
  } finally {
    await service.stop(5000);
    await rm(cacheDir, { recursive: true, force: true });
  }
}

test('the helm test pod passes against a ready service: /ready is 200 and one text is classified', async (t) => {
  const rendered = await renderForHere([
    '--set',
    'tests.text=Bonjour tout le monde et merci beaucoup',
    '--set',
    'tests.expectedLabel=fr',
  ]);
  await withService(rendered, {}, async () => {
    const run = await runTestPod(rendered, 30_000);
    t.is(run.code, 0, run.output);
    t.regex(run.output, /classified: fr 0\.\d+/);
  });
});

test('the helm test pod fails when the first label is not the expected one', async (t) => {
  const rendered = await renderForHere([
    '--set',
    'tests.text=The quick brown fox jumps over the lazy dog',
    '--set',
    'tests.expectedLabel=de',
  ]);
  await withService(rendered, {}, async () => {
    const run = await runTestPod(rendered, 30_000);
    t.is(run.code, 1, run.output);
    t.regex(run.output, /helm test failed: expected label de, got en/);
  });
});

test('the helm test pod fails by its deadline when the service never turns ready (wrong model MD5)', async (t) => {
  const rendered = await renderForHere(['--set', 'tests.timeoutSeconds=3']);
  await withService(rendered, { MODEL_MD5: 'ffffffffffffffffffffffffffffffff' }, async () => {
    const started = Date.now();
    const run = await runTestPod(rendered, 30_000);
    t.is(run.code, 1, run.output);
    t.regex(run.output, /not ready yet: .*\/ready answered 503/);
    t.regex(run.output, /helm test failed: .*\/ready not 200 within 3 s/);
    t.true(Date.now() - started < 15_000, 'it gives up at its deadline');
  });
});
