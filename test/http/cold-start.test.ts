// The start path as an operator sees it in the logs (issue 16): on a warm model cache the first
// fastText child loads the cached file while it is hashed and before the HTTP stack is
// imported, serving nothing until the MD5 matched (a tampered copy never answers), and Node's
// compile cache is turned on before the service's modules load, in the install's own
// node_modules/.cache unless Node's variables say otherwise.
import test from 'ava';
import {
  cpSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseRawLine, pidAlive, rawPredict } from '../engine/helpers.js';
import { BUNDLED_MD5, postJson, ROOT, startService, type LogLine } from '../helpers/service.js';

function tempDir(t: import('ava').ExecutionContext, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A copy of the build with a node_modules of its own (each package a link to the project's),
 * so that the compile cache's default directory, node_modules/.cache, is this copy's alone.
 */
function installCopy(t: import('ava').ExecutionContext): string {
  const root = tempDir(t, 'fte-install-');
  cpSync(path.join(ROOT, 'dist', 'app'), path.join(root, 'dist', 'app'), { recursive: true });
  for (const file of ['package.json', 'model.lock.json']) copyFileSync(path.join(ROOT, file), path.join(root, file));
  mkdirSync(path.join(root, 'node_modules'));
  for (const entry of readdirSync(path.join(ROOT, 'node_modules')))
    if (entry !== '.cache') symlinkSync(path.join(ROOT, 'node_modules', entry), path.join(root, 'node_modules', entry));
  return root;
}

const indexOf = (logs: readonly LogLine[], match: (l: LogLine) => boolean, what: string): number => {
  const i = logs.findIndex(match);
  if (i < 0) throw new Error(`no log line for ${what}: ${JSON.stringify(logs.map((l) => l.msg))}`);
  return i;
};

test('warm model cache: the first child loads while the MD5 is computed, before the HTTP stack is imported; ready only once the MD5 matched', async (t) => {
  const cacheDir = tempDir(t, 'fte-cold-');
  // The first start fills the model cache.
  const first = await startService({ env: { MODEL_CACHE_DIR: cacheDir } });
  await first.waitReady(15_000);
  await first.stop();

  const svc = await startService({ env: { MODEL_CACHE_DIR: cacheDir } });
  t.teardown(() => svc.stop());
  await svc.waitReady(15_000);
  const res = await postJson(`${svc.url}/v1/classify`, { text: 'Bonjour tout le monde, comment allez-vous ?' });
  t.is(res.status, 200);

  const { logs } = svc;
  const early = indexOf(logs, (l) => l.event === 'early_engine_start', 'the early engine');
  const verified = indexOf(logs, (l) => l.msg === 'model cache hit, verified', 'the MD5 check');
  const listening = indexOf(logs, (l) => l.event === 'listening', 'listening');
  const ready = indexOf(logs, (l) => l.event === 'ready', 'ready');
  t.is(logs[verified]?.md5, BUNDLED_MD5);
  t.is(logs[verified]?.verifiedBy, 'md5', 'the bundled lock has no SHA-256: its cache hit is checked by MD5');
  t.is(logs[early]?.path, path.join(cacheDir, `${BUNDLED_MD5}.bin`));
  t.true(early < listening, 'the child loads the model while the HTTP stack is imported');
  t.true(verified < ready, 'ready only after the MD5 matched');
  t.false(logs.some((l) => l.event === 'early_engine_discarded'));
});

test("a cached copy tampered with (same size, loadable, other answers): the child started on it is killed unused, the model fetched again, and every answer is the true model's", async (t) => {
  const cacheDir = tempDir(t, 'fte-tamper-');
  const first = await startService({ env: { MODEL_CACHE_DIR: cacheDir } });
  await first.waitReady(15_000);
  await first.stop();
  // 200 kB of the quantized input matrix scrambled: fastText still loads it, and answers otherwise.
  const cached = path.join(cacheDir, `${BUNDLED_MD5}.bin`);
  const bytes = readFileSync(cached);
  for (let i = 500_000; i < 700_000; i++) bytes[i] = ((bytes[i] ?? 0) * 7 + 13) & 255;
  writeFileSync(cached, bytes);
  const texts = ['The weather was lovely this morning', 'Bonjour tout le monde', 'Wie geht es dir heute?'];
  const truth = (await rawPredict(texts, 2)).map(parseRawLine);
  t.notDeepEqual((await rawPredict(texts, 2, cached)).map(parseRawLine), truth, 'the tampered copy answers otherwise');

  const svc = await startService({ env: { MODEL_CACHE_DIR: cacheDir } });
  t.teardown(() => svc.stop());
  // Asked from the first moment on: every answer given is the true model's.
  const answers: unknown[] = [];
  let statuses = 0;
  for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
    const res = await postJson(`${svc.url}/v1/classify`, { texts, k: 2 });
    statuses += 1;
    if (res.status === 200) {
      answers.push((res.body as { results: unknown[] }).results);
      if (answers.length >= 20) break;
    } else t.is(res.status, 503, JSON.stringify(res.body));
  }
  t.true(answers.length >= 20, `${answers.length} answers in ${statuses} requests`);
  for (const answer of answers) t.deepEqual(answer, truth);
  t.truthy(svc.logs.find((l) => l.msg === 'cached model failed its check; removing it'));
  // Any child spawned on the tampered bytes is gone.
  const discardedAt = svc.logs.findIndex((l) => l.event === 'early_engine_discarded');
  const early = svc.logs
    .slice(0, Math.max(0, discardedAt))
    .flatMap((l) => (typeof l.childPid === 'number' ? [l.childPid] : []));
  for (const pid of early) t.false(pidAlive(pid), `child ${pid} of the discarded engine still runs`);
});

test("Node's compile cache: on in the install's node_modules/.cache before the service loads, one entry per module", async (t) => {
  const root = installCopy(t);
  const main = path.join(root, 'dist', 'app', 'main.js');
  const env = { MODEL_CACHE_DIR: tempDir(t, 'fte-cold-') };
  const dir = path.join(root, 'node_modules', '.cache', 'fasttext-edge-compile');

  const svc = await startService({ main, env });
  await svc.waitReady(15_000);
  const listening = svc.logs.find((l) => l.event === 'listening');
  const state = listening?.compileCache as { status: string; directory: string } | undefined;
  t.is(state?.status, 'enabled');
  t.is(path.dirname(state?.directory ?? ''), dir);
  t.is((await svc.stop()).code, 0);
  // Node writes the cache as the process exits: every module loaded after the entry turned it
  // on (the service, its HTTP stack, Koa, pino, prom-client...), not just a few.
  const versions = readdirSync(dir);
  t.is(versions.length, 1, versions.join(', '));
  t.true(readdirSync(path.join(dir, versions[0] ?? '')).length > 100);

  // A second start finds it and serves.
  const again = await startService({ main, env });
  t.teardown(() => again.stop());
  await again.waitReady(15_000);
  t.is((await postJson(`${again.url}/v1/classify`, { text: 'Hello world, how are you today?' })).status, 200);
});

test('NODE_DISABLE_COMPILE_CACHE=1: no compile cache, and the listening line says so; NODE_COMPILE_CACHE moves it', async (t) => {
  const root = installCopy(t);
  const main = path.join(root, 'dist', 'app', 'main.js');
  const env = { MODEL_CACHE_DIR: tempDir(t, 'fte-cold-') };

  const off = await startService({ main, env: { ...env, NODE_DISABLE_COMPILE_CACHE: '1' } });
  await off.waitReady(15_000);
  t.is((off.logs.find((l) => l.event === 'listening')?.compileCache as { status: string }).status, 'disabled');
  await off.stop();
  t.false(existsSync(path.join(root, 'node_modules', '.cache')));

  const elsewhere = tempDir(t, 'fte-ccache-');
  const moved = await startService({ main, env: { ...env, NODE_COMPILE_CACHE: elsewhere } });
  await moved.waitReady(15_000);
  const state = moved.logs.find((l) => l.event === 'listening')?.compileCache as { status: string; directory: string };
  t.is(state.status, 'already_enabled');
  t.is(path.dirname(state.directory), elsewhere);
  await moved.stop();
  t.false(existsSync(path.join(root, 'node_modules', '.cache')));
  t.true(readdirSync(elsewhere).length === 1);
});
