// "Drain is final": once SIGTERM has begun the drain, /ready never answers 200 again, and a
// download or engine start still in progress is aborted. Every order of (download done,
// engine started, SIGTERM), in both load modes, with random gaps between the steps, over the
// fakes of test/lifecycle/fakes.ts (real parts cannot be stopped at these exact points).
import test from 'ava';
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import { harness, Latch, settle, until } from './fakes.js';

type Step = 'download' | 'engine' | 'term';

async function gap(kind: number): Promise<void> {
  if (kind === 0) return;
  if (kind === 1) await Promise.resolve();
  else if (kind === 2) await settle(kind);
  else await new Promise((r) => setTimeout(r, kind));
}

test('drain is final: in every order of download, engine start and SIGTERM, readiness never turns 200 after SIGTERM and unfinished work is aborted', async (t) => {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.shuffledSubarray<Step>(['download', 'engine', 'term'], { minLength: 3, maxLength: 3 }),
      fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 4, maxLength: 4 }),
      fc.constantFrom('eager', 'lazy'),
      async (order, gaps, load) => {
        runs++;
        const h = harness({ MODEL_LOAD: load });
        const { lifecycle, provider } = h;
        lifecycle.boot();
        lifecycle.readiness(); // lazy: the first probe is the demand that starts the load
        const seen: Array<{ afterTerm: boolean; ready: boolean; reason: string | undefined }> = [];
        let termed = false;
        let readyBeforeTerm = false;
        const look = (): void => {
          const r = lifecycle.readiness();
          seen.push({ afterTerm: termed, ready: r.ready, reason: r.reason });
        };
        for (const [i, step] of order.entries()) {
          await gap(gaps[i] ?? 0);
          look();
          if (step === 'download') provider.gate.resolve();
          else if (step === 'engine') h.engineGate.resolve();
          else {
            readyBeforeTerm = lifecycle.state === 'ready';
            termed = true;
            lifecycle.beginDraining();
          }
          look();
        }
        // Whatever was still in flight finishes (or is aborted) now.
        const until = performance.now() + 40;
        while (performance.now() < until) {
          await gap(gaps[3] ?? 1);
          look();
        }
        const afterTerm = seen.filter((s) => s.afterTerm);
        t.true(afterTerm.length > 0);
        for (const s of afterTerm) {
          if (s.ready || s.reason !== 'draining')
            t.fail(`order ${order.join(',')} (${load}): /ready said ${JSON.stringify(s)} after SIGTERM`);
        }
        t.is(lifecycle.state, 'draining');
        const termAt = order.indexOf('term');
        if (termAt < order.indexOf('download')) {
          t.true(provider.aborted >= 1 || provider.calls.length === 0, 'the download in progress was aborted');
          t.is(h.engines.length, 0, 'no engine was started for a draining process');
        } else if (!readyBeforeTerm) {
          t.true(
            h.engines.every((e) => e.stopped && !e.running),
            'an engine start in progress was aborted',
          );
        } else {
          t.false(h.engines[0]?.stopped, 'a loaded engine keeps serving the drain');
          t.is((await lifecycle.classify(['hello'], 1, 0, performance.now() + 1000))[0]?.[0]?.label, 'en');
        }
        await lifecycle.stop();
        t.is(lifecycle.readiness().ready, false);
      },
    ),
    { numRuns: 60 },
  );
  t.log(`${runs} orderings run`);
});

test('lazy mode: a readiness probe during the drain does not start a load', async (t) => {
  const h = harness({ MODEL_LOAD: 'lazy' });
  h.lifecycle.boot();
  h.lifecycle.beginDraining();
  t.is(h.lifecycle.readiness().reason, 'draining');
  await settle();
  t.is(h.provider.calls.length, 0);
  await h.lifecycle.stop();
});

test('SIGTERM while the engine starts: stop() waits until that engine has stopped, so no child outlives the service', async (t) => {
  const h = harness();
  h.provider.gate.resolve();
  h.lifecycle.boot();
  await until('the engine starting', () => h.engines[0]?.startCalled === true);
  const engine = h.engines[0]!;
  const childrenEnd = new Latch();
  engine.stopLatch = childrenEnd; // its children take a while to end (SIGTERM, then SIGKILL)
  h.lifecycle.beginDraining();
  let stopped = false;
  const stopping = h.lifecycle.stop().then(() => (stopped = true));
  await settle(20);
  t.true(engine.stopped, 'the engine was told to stop at SIGTERM');
  t.false(stopped, 'stop() did not return while its children were still ending');
  childrenEnd.resolve();
  await stopping;
  t.true(stopped);
});
