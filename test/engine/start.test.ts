// start(): resolves once a child answers; a model the binary cannot load rejects it cleanly,
// with the binary's own reason and no process left behind.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { EngineError } from '../../app/engine/classifier.js';
import { Engines, inMs, MODEL, pidsWithArg, SENTENCES, waitFor } from './helpers.js';

const engines = new Engines();
let dir = '';
test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'engine-start-'));
});
test.after.always(async () => {
  await engines.stopAll();
  await rm(dir, { recursive: true, force: true });
});

/** The first 500 kB of the real model: the binary neither loads it nor exits (measured: it spins, ~0.8 GB/s of RSS). */
async function truncatedModel(): Promise<Buffer> {
  const src = await open(MODEL, 'r');
  try {
    const head = Buffer.alloc(500_000);
    await src.read(head, 0, head.length, 0);
    return head;
  } finally {
    await src.close();
  }
}

test('start resolves with a child answering, labels read, and stats initialised', async (t) => {
  const t0 = performance.now();
  const engine = await engines.started({ poolSize: 2 });
  t.log(`start took ${(performance.now() - t0).toFixed(0)} ms`);
  t.is(engine.labels().length, 176);
  const stats = engine.stats();
  t.true(stats.liveChildren >= 1);
  t.is(stats.restarts, 0);
  t.is(stats.pending, 0);
  t.true(stats.lastProgressAt <= performance.now());
  const [en] = await engine.predict([SENTENCES.en], 1, 0, inMs(2000));
  t.is(en?.[0]?.label, 'en');
  await t.throwsAsync(engine.start(MODEL), { message: /called on an engine that is running/ });
});

test("a garbage model file: start rejects with the binary's reason, no process left", async (t) => {
  const garbage = path.join(dir, 'garbage.bin');
  await writeFile(garbage, randomBytes(100_000));
  const engine = engines.create({ poolSize: 2 });
  const err = await t.throwsAsync(engine.start(garbage), { instanceOf: EngineError });
  t.is(err?.code, 'engine_unavailable');
  t.regex(err?.message ?? '', /wrong file format/);
  t.deepEqual(engine.childPids(), []);
  t.deepEqual(pidsWithArg(garbage), []);
  const call = await t.throwsAsync(engine.predict([SENTENCES.en], 1, 0, inMs(1000)), { instanceOf: EngineError });
  t.is(call?.code, 'engine_unavailable');

  // The same engine starts on a good model afterwards (the lifecycle retries this way).
  await engine.start(MODEL);
  const [en] = await engine.predict([SENTENCES.en], 3, 0, inMs(2000));
  t.is(en?.[0]?.label, 'en');
  t.is(engine.labels().length, 176);
  t.is(engine.childPids(1).length, 2);
});

test('a truncated model (the binary spins allocating memory): start rejects at the load deadline, processes killed', async (t) => {
  const truncated = path.join(dir, 'truncated.ftz');
  await writeFile(truncated, await truncatedModel());
  const engine = engines.create({ poolSize: 1, loadTimeoutMs: 600 });
  const t0 = performance.now();
  const err = await t.throwsAsync(engine.start(truncated), { instanceOf: EngineError });
  const took = performance.now() - t0;
  t.is(err?.code, 'engine_unavailable');
  t.regex(err?.message ?? '', /within 600 ms/);
  t.true(took >= 600 && took < 2500, `rejected after ${took.toFixed(0)} ms`);
  t.deepEqual(pidsWithArg(truncated), []);
});

test('a missing model file or binary: start rejects', async (t) => {
  const missing = path.join(dir, 'nope.ftz');
  const engine = engines.create();
  const e1 = await t.throwsAsync(engine.start(missing), { instanceOf: EngineError });
  t.regex(e1?.message ?? '', /cannot read model/);
  await engine.start(MODEL);
  t.true(engine.stats().liveChildren >= 1);
  const e2 = await t.throwsAsync(engines.create({ binary: path.join(dir, 'no-such-fasttext') }).start(MODEL), {
    instanceOf: EngineError,
  });
  t.is(e2?.code, 'engine_unavailable');
  t.regex(e2?.message ?? '', /ENOENT/);
});

test('stop() during start rejects the start and leaves nothing running', async (t) => {
  const engine = engines.create({ poolSize: 2 });
  const starting = engine.start(MODEL);
  const stopping = engine.stop();
  const err = await t.throwsAsync(starting, { instanceOf: EngineError });
  t.is(err?.code, 'engine_unavailable');
  await stopping;
  t.deepEqual(engine.childPids(), []);

  // Again with the first child spawned and still loading (the others wait for it; labels
  // are read from the file in JS).
  const slow = path.join(dir, 'slow.ftz');
  await writeFile(slow, await truncatedModel());
  const loading = engines.create({ poolSize: 2, loadTimeoutMs: 10_000 });
  const started = loading.start(slow);
  await waitFor('a child loading', () => pidsWithArg(slow).length === 1, 2000);
  await loading.stop();
  const err2 = await t.throwsAsync(started, { instanceOf: EngineError });
  t.regex(err2?.message ?? '', /stopped during start/);
  t.deepEqual(pidsWithArg(slow), []);
});
