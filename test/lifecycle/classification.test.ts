// The classification path's cache merge under search: for any sequence of batches (repeats,
// duplicates within a batch, several k and thresholds), every text gets the engine's answer for
// itself, in order, and the engine sees exactly the texts the cache did not hold. In-process
// over a fake engine (a deterministic function of the text) and the real prediction cache.
import test from 'ava';
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import { ClassificationPath, type ServingGate } from '../../app/classification.js';
import type { Classifier, Prediction } from '../../app/engine/classifier.js';
import { createMetrics } from '../../app/metrics.js';
import { PredictionCache } from '../../app/prediction-cache.js';
import { NotReadyError } from '../../app/readiness.js';

const answerFor = (text: string, k: number, threshold: number): Prediction[] =>
  [
    { label: `l${text.length % 7}`, score: 0.5 + (text.charCodeAt(0) || 0) / 1000 },
    { label: 'z', score: 0.01 },
  ]
    .filter((p) => p.score >= threshold)
    .slice(0, k);

function fakeEngine(): { engine: Classifier; sent: string[][] } {
  const sent: string[][] = [];
  const engine: Classifier = {
    start: () => Promise.resolve(),
    predict: (texts, k, threshold) => {
      sent.push([...texts]);
      return Promise.resolve(texts.map((t) => answerFor(t, k, threshold)));
    },
    labels: () => [],
    stats: () => ({ liveChildren: 1, pending: 0, restarts: 0, lastProgressAt: performance.now() }),
    stop: () => Promise.resolve(),
  };
  return { engine, sent };
}

test('cache merge: every text gets its own answer in order; the engine gets each distinct miss once', async (t) => {
  const batch = fc.record({
    texts: fc.array(fc.constantFrom('a', 'bb', 'ccc', 'a', 'dddd', 'é', ''), { minLength: 1, maxLength: 8 }),
    k: fc.constantFrom(1, 2),
    threshold: fc.constantFrom(0, 0.3),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(batch, { minLength: 1, maxLength: 12 }), async (batches) => {
      const { engine, sent } = fakeEngine();
      const gate: ServingGate = { admit: () => ({ engine }), nextChange: () => Promise.resolve() };
      const cache = new PredictionCache({ enabled: true, maxKeys: 1000, ttlSeconds: 600, maxBytes: 32 * 1024 * 1024 });
      const path = new ClassificationPath(gate, cache, createMetrics(), { md5: 'm'.repeat(32) });
      const seen = new Set<string>();
      try {
        for (const { texts, k, threshold } of batches) {
          const before = sent.length;
          const results = await path.classify(texts, k, threshold, performance.now() + 1000);
          t.deepEqual(
            results,
            texts.map((x) => answerFor(x, k, threshold)),
          );
          // Each distinct missed text once, in the order of its first occurrence.
          const misses = [...new Set(texts.filter((x) => !seen.has(`${k}|${threshold}|${x}`)))];
          t.deepEqual(sent.slice(before).flat(), misses);
          for (const x of texts) seen.add(`${k}|${threshold}|${x}`);
        }
      } finally {
        cache.close();
      }
    }),
    { numRuns: 80 },
  );
});

test('not ready: a failure reason fails at once; a waitable one waits for the next change, then answers', async (t) => {
  const { engine } = fakeEngine();
  let admitted: ReturnType<ServingGate['admit']> = { reason: 'md5_mismatch', waitable: false };
  let change: () => void = () => undefined;
  const gate: ServingGate = { admit: () => admitted, nextChange: () => new Promise((r) => (change = r)) };
  const cache = new PredictionCache({ enabled: false, maxKeys: 1, ttlSeconds: 1, maxBytes: 1024 });
  const path = new ClassificationPath(gate, cache, createMetrics(), { md5: 'm'.repeat(32) });
  await t.throwsAsync(path.classify(['x'], 1, 0, performance.now() + 5000), {
    instanceOf: NotReadyError,
    message: /md5_mismatch/,
  });
  admitted = { reason: 'downloading', waitable: true };
  const waiting = path.classify(['x'], 1, 0, performance.now() + 5000);
  await new Promise((r) => setImmediate(r));
  admitted = { engine };
  change();
  t.deepEqual(await waiting, [answerFor('x', 1, 0)]);
  admitted = { reason: 'downloading', waitable: true };
  const started = performance.now();
  await t.throwsAsync(path.classify(['x'], 1, 0, performance.now() + 100), {
    instanceOf: NotReadyError,
    message: /downloading/,
  });
  t.true(performance.now() - started < 2000, 'the wait ends at the deadline');
});
