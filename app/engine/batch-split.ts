// How one batch is shared out over several ready children: a pure function, so the
// dispatch rule can be tested on its own (test/engine/batch-split.test.ts).

/** The texts `[start, start + count)` of a batch go to worker `worker` (an index into `loads`). */
export interface Share {
  readonly worker: number;
  readonly start: number;
  readonly count: number;
}

/**
 * Splits `n` texts over workers that already owe `loads[i]` lines, so the workers that get
 * a part end with loads as even as possible (water-filling: an idle worker takes more than a
 * busy one) and no part is smaller than `minChunk` (a part costs a write and a segment).
 * The shares are in batch order, cover `[0, n)` exactly once, and go to distinct workers,
 * the least loaded ones. A batch under `2 * minChunk` or a single worker gets one share.
 */
export function splitBatch(loads: readonly number[], n: number, minChunk: number): Share[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(minChunk) || minChunk < 1)
    throw new RangeError(`minChunk must be a positive integer, got ${minChunk}`);
  if (loads.length === 0) throw new RangeError('no worker to split over');
  if (n === 0) return [];
  const order = loads.map((load, worker) => ({ worker, load })).sort((a, b) => a.load - b.load || a.worker - b.worker);
  let parts = Math.max(1, Math.min(order.length, Math.floor(n / minChunk)));
  // The level L with sum(L - load_i) = n over the `parts` least loaded workers; drop the
  // busiest of them while its part would be under minChunk (it then gets nothing).
  let level = 0;
  for (;;) {
    let sum = n;
    for (let i = 0; i < parts; i++) sum += order[i]?.load ?? 0;
    level = sum / parts;
    if (parts === 1 || level - (order[parts - 1]?.load ?? 0) >= minChunk) break;
    parts--;
  }
  const counts = order.slice(0, parts).map((w) => Math.floor(level - w.load));
  // Each ideal part is >= minChunk, so its floor is too; the rounding remainder (< parts)
  // goes one line each to the least loaded.
  let rest = n - counts.reduce((a, b) => a + b, 0);
  for (let i = 0; rest > 0; i = (i + 1) % parts, rest--) counts[i] = (counts[i] ?? 0) + 1;
  const shares: Share[] = [];
  let start = 0;
  counts.forEach((count, i) => {
    const worker = order[i]?.worker ?? 0;
    if (count > 0) shares.push({ worker, start, count });
    start += count;
  });
  return shares;
}
