// k tiers while a model loads slowly (docs/engine.md, "k tiers: no request fails while one
// loads"): tiers warm in the background after readiness, a call waits for a loading tier
// until its deadline (callTimeoutMs counts only once a child has its lines), a wider ready
// tier serves a narrower k, and stats() shows each tier. The slow model is trained here.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngineError } from '../../app/engine/classifier.js';
import { Engines, inMs, parseRawLine, rawLoadMs, rawPredict, SENTENCES, synthesizeModel, waitFor } from './helpers.js';

const engines = new Engines();
let dir = '';
let model = '';
let loadMs = 0;

test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'engine-tiers-'));
  model = await synthesizeModel(dir, 300_000, 64); // ~77 MB
  const samples = [await rawLoadMs(model), await rawLoadMs(model)];
  loadMs = Math.min(...samples);
});
test.after.always(async () => {
  await engines.stopAll();
  await rm(dir, { recursive: true, force: true });
});

const SMS = 'Congratulations! You have WON a FREE prize, call now to claim';

test.serial(
  'right after ready, a first call for the wide tier waits for it to load and is answered; callTimeoutMs does not cut that wait',
  async (t) => {
    t.log(`one load of the synthesized model: ${loadMs.toFixed(0)} ms`);
    // The answer clock is far shorter than a load: only the deadline bounds the wait.
    const engine = engines.create({
      poolSize: 1,
      widePoolSize: 1,
      warmTiers: true,
      callTimeoutMs: Math.max(50, Math.round(loadMs / 4)),
    });
    await engine.start(model);
    const readyAt = performance.now();
    t.deepEqual(engine.kTiers(), [1, 2]);
    t.deepEqual(
      engine.stats().tiers?.map((tier) => [tier.k, tier.state]),
      [
        [1, 'ready'],
        [2, 'loading'],
      ],
    );
    // A loading child owes no call: the liveness watchdog must not read its probe as stuck work.
    t.is(engine.stats().pending, 0);
    const [got] = await engine.predict([SMS], 2, 0, inMs(20 * loadMs + 5000));
    const waited = performance.now() - readyAt;
    const [raw] = await rawPredict([SMS], 2, model);
    t.deepEqual(got, parseRawLine(raw ?? ''));
    t.is(got?.length, 2);
    t.log(`first k=2 answer ${waited.toFixed(0)} ms after ready`);
    t.deepEqual(
      engine.stats().tiers?.map((tier) => tier.state),
      ['ready', 'ready'],
    );
    t.is(engine.stats().restarts, 0);
  },
);

test.serial(
  'once warm, a first k=2 call is answered without a load; an on-demand engine makes it wait a whole load',
  async (t) => {
    const measure = async (warmTiers: boolean): Promise<number> => {
      const engine = engines.create({ poolSize: 1, widePoolSize: 1, warmTiers });
      await engine.start(model);
      if (warmTiers)
        await waitFor('the k=2 tier', () => engine.stats().tiers?.[1]?.state === 'ready', 20 * loadMs + 5000);
      else await sleep(2 * loadMs);
      const t0 = performance.now();
      const [got] = await engine.predict([SMS], 2, 0, inMs(20 * loadMs + 5000));
      const took = performance.now() - t0;
      t.is(got?.length, 2);
      await engine.stop();
      return took;
    };
    const onDemand = await measure(false);
    const warm = await measure(true);
    t.log(
      `first k=2 call once idle: on demand ${onDemand.toFixed(0)} ms, warmed ${warm.toFixed(0)} ms (one load ${loadMs.toFixed(0)} ms)`,
    );
    t.true(warm < onDemand, 'the warmed tier answers sooner than one that must load');
  },
);

/** Children spawned and not yet answering their probe: the engine's loads in progress. */
function loading(engine: ReturnType<Engines['create']>): number {
  const ready = (engine.stats().tiers ?? []).reduce((n, tier) => n + tier.children, 0);
  return engine.childPids().length - ready;
}

/** Samples `loading` every few ms until `done` holds: the most seen at once, and the tiers in the order their first child became ready. */
async function watchLoads(
  engine: ReturnType<Engines['create']>,
  done: () => boolean,
  timeoutMs: number,
): Promise<{ most: number; readyOrder: number[] }> {
  let most = 0;
  const readyOrder: number[] = [];
  const seen = new Map<number, number>();
  const until = performance.now() + timeoutMs;
  for (;;) {
    const finished = done();
    most = Math.max(most, loading(engine));
    for (const tier of engine.stats().tiers ?? []) {
      for (let i = seen.get(tier.k) ?? 0; i < tier.children; i++) readyOrder.push(tier.k);
      seen.set(tier.k, Math.max(seen.get(tier.k) ?? 0, tier.children));
    }
    if (finished) break;
    if (performance.now() > until) throw new Error(`loads not done within ${timeoutMs} ms`);
    await sleep(2);
  }
  return { most, readyOrder };
}

test.serial(
  'after ready the children load one at a time, the widest tier first; a first call for it waits for that load, not a parallel one',
  async (t) => {
    // SMS model: 2 labels, so the tiers are k=1 and k=2; two children each. Before, the
    // second k=1 child and the k=2 tier loaded at once as soon as the first child was ready.
    const engine = engines.create({ poolSize: 2, widePoolSize: 2, warmTiers: true });
    await engine.start(model);
    const readyAt = performance.now();
    t.is(loading(engine), 1, 'one load right after ready');
    t.deepEqual(
      engine.stats().tiers?.map((tier) => [tier.k, tier.state, tier.children]),
      [
        [1, 'ready', 1],
        [2, 'loading', 0],
      ],
    );
    const call = engine.predict([SMS], 2, 0, inMs(20 * loadMs + 10_000)).then((got) => ({
      got,
      ms: performance.now() - readyAt,
    }));
    const all = (): boolean => engine.stats().tiers?.every((tier) => tier.children === 2) === true;
    const { most, readyOrder } = await watchLoads(engine, all, 20 * loadMs + 20_000);
    const answer = await call;
    t.log(
      `one load ${loadMs.toFixed(0)} ms; k=2 answered ${answer.ms.toFixed(0)} ms after ready; ready order ${readyOrder.join(', ')}`,
    );
    t.is(answer.got[0]?.length, 2);
    t.is(most, 1, 'never two loads at once');
    // k=1's first child was ready at start; next the widest tier, then k=1's second child (most calls), then the rest.
    t.deepEqual(readyOrder, [1, 2, 1, 2]);
    t.is(engine.stats().restarts, 0);
  },
);

test.serial('after every child is killed, they load again one at a time and every tier serves again', async (t) => {
  const engine = engines.create({ poolSize: 2, widePoolSize: 1, warmTiers: true, restartBaseMs: 20 });
  await engine.start(model);
  const full = (): boolean => engine.stats().tiers?.every((tier) => tier.children === (tier.k === 1 ? 2 : 1)) === true;
  await watchLoads(engine, full, 20 * loadMs + 20_000);
  for (const pid of engine.childPids()) process.kill(pid, 'SIGKILL');
  await waitFor('every child gone', () => (engine.stats().tiers ?? []).every((tier) => tier.children === 0), 5000);
  const { most } = await watchLoads(engine, full, 20 * loadMs + 20_000);
  t.is(most, 1, 'never two loads at once');
  const got = await engine.predict([SMS], 2, 0, inMs(5000));
  t.is(got[0]?.length, 2);
  t.is(engine.stats().restarts, 3);
});

test.serial('a wider ready tier serves a narrower k (cut to k) while its own tier loads', async (t) => {
  // lid.176: tiers 1, 10, 100; warming off so the k=10 tier is cold when asked.
  const engine = await engines.started({ poolSize: 1, widePoolSize: 1, warmTiers: false });
  await engine.predict([SENTENCES.en], 50, 0, inMs(5000)); // starts and waits for the k=100 tier
  t.deepEqual(
    engine.stats().tiers?.map((tier) => tier.state),
    ['ready', 'idle', 'ready'],
  );
  const texts = [SENTENCES.fr, SENTENCES.de];
  const got = await engine.predict(texts, 5, 0, inMs(5000));
  const raw = await rawPredict(texts, 5);
  t.deepEqual(got, raw.map(parseRawLine));
  // Its own tier was started for the calls after it.
  t.not(engine.stats().tiers?.[1]?.state, 'idle');
  await waitFor('the k=10 tier', () => engine.stats().tiers?.[1]?.state === 'ready', 5000);
});

test.serial('while every k=1 child restarts, k=1 calls are answered by a ready wide tier', async (t) => {
  const engine = await engines.started({
    poolSize: 1,
    widePoolSize: 1,
    warmTiers: true,
    restartBaseMs: 1500,
    restartMaxMs: 1500,
  });
  await waitFor(
    'every tier ready',
    () => engine.stats().tiers?.every((tier) => tier.state === 'ready') === true,
    10_000,
  );
  const [victim] = engine.childPids(1);
  if (victim === undefined) throw new Error('no child');
  process.kill(victim, 'SIGKILL');
  await waitFor('the k=1 child gone', () => engine.stats().liveChildren === 0, 2000);
  const t0 = performance.now();
  const got = await engine.predict([SENTENCES.fr, SENTENCES.it], 1, 0, inMs(5000));
  t.deepEqual(
    got.map((p) => p.map((x) => x.label)),
    [['fr'], ['it']],
  );
  t.true(performance.now() - t0 < 1000, 'answered without waiting for the restart');
  t.is(engine.stats().liveChildren, 0, 'the k=1 child was still restarting');
});

test.serial('callTimeoutMs bounds the wait for an answer once a child has the lines', async (t) => {
  const engine = await engines.started({ poolSize: 1, stallMs: 10_000, callTimeoutMs: 300 });
  const [pid] = engine.childPids(1);
  if (pid === undefined) throw new Error('no child');
  process.kill(pid, 'SIGSTOP');
  try {
    const t0 = performance.now();
    const err = await t.throwsAsync(engine.predict([SENTENCES.en], 1, 0, inMs(10_000)), { instanceOf: EngineError });
    const took = performance.now() - t0;
    t.is(err?.code, 'deadline_exceeded');
    t.true(took >= 290 && took < 5000, `failed after ${took.toFixed(0)} ms`);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
});
