// The start path as an operator sees it in the logs (issue 16): on a warm model cache the first
// fastText child is spawned on verified bytes before the HTTP stack is imported, and Node's
// compile cache is turned on before the service's modules load, in the install's own
// node_modules/.cache unless Node's variables say otherwise.
import test from 'ava';
import { cpSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

test('warm model cache: the first child is spawned after the MD5 is verified and before the HTTP stack is imported', async (t) => {
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
  const verified = indexOf(logs, (l) => l.msg === 'model cache hit, MD5 verified', 'the MD5 check');
  const spawned = indexOf(logs, (l) => l.event === 'model_phase' && l.phase === 'engine_starting', 'the spawn');
  const childUp = indexOf(logs, (l) => l.msg === 'fastText process ready', 'the first child');
  const listening = indexOf(logs, (l) => l.event === 'listening', 'listening');
  const ready = indexOf(logs, (l) => l.event === 'ready', 'ready');
  t.is(logs[verified]?.md5, BUNDLED_MD5);
  t.true(verified < spawned, 'no child before the bytes are verified');
  t.true(spawned < childUp);
  t.true(spawned < listening, 'the child loads the model while the HTTP stack is imported');
  t.true(childUp < ready);
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
