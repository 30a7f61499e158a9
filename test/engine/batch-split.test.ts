// splitBatch, the rule that shares one batch over several ready children, searched with
// fast-check over random loads, batch sizes and chunk floors.
import test from 'ava';
import fc from 'fast-check';
import { splitBatch, type Share } from '../../app/engine/batch-split.js';

const cases = fc.record({
  loads: fc.array(fc.nat({ max: 5000 }), { minLength: 1, maxLength: 12 }),
  n: fc.nat({ max: 4000 }),
  minChunk: fc.integer({ min: 1, max: 64 }),
});

function finalLoads(loads: readonly number[], shares: readonly Share[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of shares) out.set(s.worker, (loads[s.worker] ?? 0) + s.count);
  return out;
}

test('every index is assigned exactly once, in order, to distinct workers', (t) => {
  fc.assert(
    fc.property(cases, ({ loads, n, minChunk }) => {
      const shares = splitBatch(loads, n, minChunk);
      const seen = new Array<number>(n).fill(0);
      for (const s of shares) {
        if (!(s.count > 0 && s.worker >= 0 && s.worker < loads.length)) return false;
        for (let i = s.start; i < s.start + s.count; i++) seen[i] = (seen[i] ?? 0) + 1;
      }
      let next = 0;
      for (const s of shares) {
        if (s.start !== next) return false;
        next += s.count;
      }
      return next === n && seen.every((c) => c === 1) && new Set(shares.map((s) => s.worker)).size === shares.length;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('loads are balanced: the workers given a part end within one line of each other, and they are the least loaded', (t) => {
  fc.assert(
    fc.property(cases, ({ loads, n, minChunk }) => {
      const shares = splitBatch(loads, n, minChunk);
      if (n === 0) return shares.length === 0;
      const after = [...finalLoads(loads, shares).values()];
      if (Math.max(...after) - Math.min(...after) > 1) return false;
      const given = new Set(shares.map((s) => s.worker));
      const maxGivenLoad = Math.max(...[...given].map((w) => loads[w] ?? 0));
      // Nobody left out was less busy than someone given a part.
      return loads.every((load, w) => given.has(w) || load >= maxGivenLoad);
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('no part is under minChunk unless the whole batch is; a small batch or one worker gets one share', (t) => {
  fc.assert(
    fc.property(cases, ({ loads, n, minChunk }) => {
      const shares = splitBatch(loads, n, minChunk);
      if (n === 0) return true;
      if (n < 2 * minChunk || loads.length === 1) return shares.length === 1 && shares[0]?.count === n;
      return shares.every((s) => s.count >= minChunk);
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('an idle worker takes more of the batch than a busy one; equal loads split evenly', (t) => {
  t.deepEqual(splitBatch([0, 0], 64, 16), [
    { worker: 0, start: 0, count: 32 },
    { worker: 1, start: 32, count: 32 },
  ]);
  // 40 busy, 0 idle, 64 new: the level is 52, so the busy one would get 12 < 16: all to the idle one.
  t.deepEqual(splitBatch([40, 0], 64, 16), [{ worker: 1, start: 0, count: 64 }]);
  // 10 busy, 0 idle, 70 new: level 40, parts 40 and 30.
  t.deepEqual(splitBatch([10, 0], 70, 16), [
    { worker: 1, start: 0, count: 40 },
    { worker: 0, start: 40, count: 30 },
  ]);
});

test('bad arguments are refused', (t) => {
  t.throws(() => splitBatch([], 10, 16), { instanceOf: RangeError });
  t.throws(() => splitBatch([0], -1, 16), { instanceOf: RangeError });
  t.throws(() => splitBatch([0], 10, 0), { instanceOf: RangeError });
  t.throws(() => splitBatch([0], 1.5, 16), { instanceOf: RangeError });
});
