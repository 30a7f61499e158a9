// Which slot loads the model next. Loads at once slow each other down (on 2 cores, three
// 1 GiB loads together took as long as three one after another, and none was ready before
// all were): so at most `limit` children load at a time, and the one that helps callers most
// goes first. The measurements behind it: docs/engine.md, "Loads one at a time".
import type { Group, Slot } from './pool-group.js';

export class LoadQueue {
  /** Slots waiting for their turn to spawn, in the order they asked. */
  private readonly queued: Slot[] = [];

  constructor(
    private readonly groups: readonly Group[],
    private readonly limit: number,
    private readonly spawn: (slot: Slot) => void,
  ) {
    if (!(limit >= 1)) throw new RangeError('loadConcurrency must be >= 1');
  }

  private pumpSoon: NodeJS.Immediate | undefined;

  /**
   * The slot wants a child: spawned now if fewer than `limit` load, else when its turn comes.
   * `together`: the turn is decided after this event-loop turn's other requests, so the
   * restarts of children that died together start in priority order (k=1 first), not in
   * the order their timers fired.
   */
  request(slot: Slot, together = false): void {
    if (slot.queued || slot.child !== undefined || slot.preparing) return;
    slot.queued = true;
    this.queued.push(slot);
    if (!together) this.pump();
    else
      this.pumpSoon ??= setImmediate(() => {
        this.pumpSoon = undefined;
        this.pump();
      });
  }

  /** A load ended (a child answered its probe, died, or could not be spawned): start the next ones. */
  pump(): void {
    while (this.queued.length > 0 && this.loading() < this.limit) {
      const next = this.pick();
      this.queued.splice(this.queued.indexOf(next), 1);
      next.queued = false;
      this.spawn(next);
    }
  }

  /** Nobody waits any more (stop, reset). */
  clear(): void {
    if (this.pumpSoon !== undefined) clearImmediate(this.pumpSoon);
    this.pumpSoon = undefined;
    for (const slot of this.queued) slot.queued = false;
    this.queued.length = 0;
  }

  /** Slots whose child is on its way: the integrity check before the spawn, or the load itself. */
  private loading(): number {
    let n = 0;
    for (const g of this.groups) for (const s of g.slots) if (s.preparing || s.child?.state === 'loading') n++;
    return n;
  }

  /**
   * 1. the k=1 group when it has no ready child (readiness counts k=1 children);
   * 2. the narrowest group with calls waiting for it and no ready child;
   * 3. the widest group with no ready child: once it is up, every k is answered (cut to k);
   * 4. the rest: k=1 first (most calls), then the widest first.
   */
  private pick(): Slot {
    const q = this.queued;
    const noReady = (s: Slot): boolean => s.group.ready().length === 0;
    const byK = (a: Slot, b: Slot): number => a.group.k - b.group.k;
    return (
      q.find((s) => s.group.k === 1 && noReady(s)) ??
      [...q].sort(byK).find((s) => noReady(s) && s.group.waiting.some((w) => !w.sink.settled)) ??
      [...q].sort(byK).reverse().find(noReady) ??
      q.find((s) => s.group.k === 1) ??
      ([...q].sort(byK).reverse()[0] as Slot)
    );
  }
}
