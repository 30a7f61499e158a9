// The pending calls and the one timer that expires them: armed at the earliest deadline,
// re-armed after each expiry at the next one, so a thousand calls cost one timer.
import { performance } from 'node:perf_hooks';

export interface HasDeadline {
  /** Absolute performance.now() time. */
  readonly deadline: number;
}

export class Deadlines<T extends HasDeadline> implements Iterable<T> {
  private readonly pending = new Set<T>();
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Number.POSITIVE_INFINITY;

  /** `expire` is called once for each item still tracked when its deadline passes. */
  constructor(private readonly expire: (item: T) => void) {}

  add(item: T): void {
    this.pending.add(item);
    if (item.deadline < this.armedAt) this.arm(item.deadline);
  }

  /** The item's deadline moved earlier: re-arm if it is now the earliest. */
  tightened(item: T): void {
    if (this.pending.has(item) && item.deadline < this.armedAt) this.arm(item.deadline);
  }

  delete(item: T): void {
    this.pending.delete(item);
  }

  get size(): number {
    return this.pending.size;
  }

  [Symbol.iterator](): Iterator<T> {
    return this.pending.values();
  }

  /** Stops the timer; the items stay (the owner fails them). */
  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
  }

  private arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(0, Math.ceil(at - performance.now())));
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    // Over a copy: items are removed while iterating.
    for (const item of [...this.pending]) {
      if (item.deadline <= now) {
        this.pending.delete(item);
        this.expire(item);
      } else if (item.deadline < next) next = item.deadline;
    }
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
  };
}
