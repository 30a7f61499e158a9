// LoadQueue's choice of the next slot to load (docs/engine.md, "Loads one at a time"), as
// in-process logic: real Groups and Slots, and a fake child (an object with a state) in place
// of a fastText process, so each ordering is exact. The real processes are in tiers.test.ts
// (never two loads at once) and test/large (the order on a 1 GiB model).
import test from 'ava';
import { setImmediate as tick } from 'node:timers/promises';
import type { Call } from '../../app/engine/call.js';
import type { ChildEvents } from '../../app/engine/child.js';
import { LoadQueue } from '../../app/engine/load-queue.js';
import { Group, Slot, type PoolChild } from '../../app/engine/pool-group.js';

const noEvents = (): ChildEvents<Call> => ({ ready: () => undefined, died: () => undefined, exited: () => undefined });

/** Groups by k with their slot counts, a queue over them, and the slots it spawned, in order. */
function setup(shape: readonly [number, number][], limit = 1) {
  const groups = shape.map(([k, size]) => {
    const g = new Group(k);
    for (let i = 0; i < size; i++) g.slots.push(new Slot(g, noEvents));
    return g;
  });
  const spawned: Slot[] = [];
  const queue = new LoadQueue(groups, limit, (slot) => {
    spawned.push(slot);
    // The fake child: only its state is read by the queue and the group.
    slot.child = { state: 'loading', load: 0 } as unknown as PoolChild;
  });
  const slot = (k: number, i = 0): Slot => groups.find((g) => g.k === k)?.slots[i] as Slot;
  const ready = (s: Slot): void => {
    (s.child as unknown as { state: string }).state = 'ready';
    queue.pump();
  };
  const died = (s: Slot): void => {
    s.child = undefined;
    queue.pump();
  };
  const order = (): string => spawned.map((s) => `k${s.group.k}#${s.group.slots.indexOf(s)}`).join(' ');
  return { groups, queue, slot, ready, died, spawned, order };
}

test('one load at a time: k=1 first, then the widest tier, the other tiers, and the second k=1 child last', (t) => {
  const { queue, slot, ready, order } = setup([
    [1, 2],
    [10, 1],
    [100, 1],
  ]);
  queue.request(slot(1, 0));
  queue.request(slot(1, 1));
  t.is(order(), 'k1#0', 'the second k=1 child waits for the first');
  t.true(slot(1, 1).queued);
  // While the first loads, the wide tiers ask too (in the pool: once the engine is ready).
  queue.request(slot(10));
  queue.request(slot(100));
  ready(slot(1, 0));
  t.is(order(), 'k1#0 k100#0');
  ready(slot(100));
  t.is(order(), 'k1#0 k100#0 k10#0');
  ready(slot(10));
  t.is(order(), 'k1#0 k100#0 k10#0 k1#1');
  ready(slot(1, 1));
  t.is(order(), 'k1#0 k100#0 k10#0 k1#1', 'nothing left');
});

test('a tier that calls wait for loads before the widest one', (t) => {
  const { groups, queue, slot, ready, order } = setup([
    [1, 2],
    [10, 1],
    [100, 1],
  ]);
  queue.request(slot(1, 0));
  ready(slot(1, 0));
  queue.request(slot(1, 1)); // loading now
  queue.request(slot(100));
  queue.request(slot(10));
  const k10 = groups[1] as Group;
  k10.waiting.push({ sink: { settled: false } as Call, lines: [], start: 0, count: 1, answered: 0 });
  ready(slot(1, 1));
  t.is(order(), 'k1#0 k1#1 k10#0');
  // A settled (expired) call is no demand.
  const other = setup([
    [1, 1],
    [10, 1],
    [100, 1],
  ]);
  other.queue.request(other.slot(1));
  other.queue.request(other.slot(100));
  other.queue.request(other.slot(10));
  (other.groups[1] as Group).waiting.push({
    sink: { settled: true } as Call,
    lines: [],
    start: 0,
    count: 1,
    answered: 0,
  });
  other.ready(other.slot(1));
  t.is(other.order(), 'k1#0 k100#0');
});

test('children that die together restart k=1 first, whatever order their restart timers fire in', async (t) => {
  const { queue, slot, ready, died, order, spawned } = setup([
    [1, 1],
    [100, 1],
  ]);
  queue.request(slot(1));
  ready(slot(1));
  queue.request(slot(100));
  ready(slot(100));
  spawned.length = 0;
  died(slot(100));
  died(slot(1));
  // The wide slot's timer fires first.
  queue.request(slot(100), true);
  queue.request(slot(1), true);
  t.is(order(), '', 'decided after this turn');
  t.true(slot(100).queued && slot(1).queued);
  await tick();
  t.is(order(), 'k1#0');
  ready(slot(1));
  t.is(order(), 'k1#0 k100#0');
});

test('loadConcurrency 2: two at a time; a death frees a turn; clear() forgets the queue', (t) => {
  const { queue, slot, died, order } = setup(
    [
      [1, 3],
      [100, 1],
    ],
    2,
  );
  for (let i = 0; i < 3; i++) queue.request(slot(1, i));
  queue.request(slot(100));
  t.is(order(), 'k1#0 k1#1');
  died(slot(1, 0));
  t.is(order(), 'k1#0 k1#1 k1#2', 'k=1 has no ready child: it goes before the widest');
  queue.clear();
  t.false(slot(100).queued);
  died(slot(1, 1));
  t.is(order(), 'k1#0 k1#1 k1#2');
  t.throws(() => new LoadQueue([], 0, () => undefined), { instanceOf: RangeError });
});
