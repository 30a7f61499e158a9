// The pool's children come in groups by k tier (k is a command-line argument of the
// binary); each group has a fixed number of slots, and each slot holds the child filling it
// now and its restart backoff. See docs/engine.md for why there are several tiers.
import type { Call } from './call.js';
import type { ChildEvents, FastTextChild, Segment } from './child.js';
import { splitBatch } from './batch-split.js';
import { EngineError } from './classifier.js';

/** Batches smaller than twice this go to one child; parts of a split batch are at least this big. */
const MIN_CHUNK = 16;

export type PoolChild = FastTextChild<Call>;
export type CallSegment = Segment<Call>;

/** One place in a group's pool: the child filling it now, and its restart backoff. */
export class Slot {
  child: PoolChild | undefined;
  /** Consecutive short lives, for the backoff exponent. */
  failures = 0;
  restartTimer: NodeJS.Timeout | undefined;
  restartAt = 0;
  /** A spawn is being prepared (the beforeSpawn hook is running). */
  preparing = false;
  /** Waiting for its turn to load (LoadQueue): at most a few children load at once. */
  queued = false;
  /** beforeSpawn refused the model for this slot's last spawn: nobody should wait for it. */
  modelRejected = false;

  /** The pool's callbacks for whichever child fills this slot. */
  readonly events: ChildEvents<Call>;

  constructor(
    readonly group: Group,
    eventsFor: (slot: Slot) => ChildEvents<Call>,
  ) {
    this.events = eventsFor(this);
  }
}

export type TierState = 'idle' | 'loading' | 'ready' | 'failing';

export class Group {
  readonly slots: Slot[] = [];
  started = false;
  /** Calls that arrived while no child of the group was ready but one was coming. */
  waiting: CallSegment[] = [];
  private rotation = 0;

  constructor(readonly k: number) {}

  /** The ready child owing the fewest lines; ties go round-robin. */
  leastLoaded(): PoolChild | undefined {
    const n = this.slots.length;
    let best: PoolChild | undefined;
    const first = this.rotation;
    this.rotation = (first + 1) % n;
    for (let i = 0; i < n; i++) {
      const child = this.slots[(first + i) % n]?.child;
      if (child === undefined || child.state !== 'ready') continue;
      if (best === undefined || child.load < best.load) best = child;
    }
    return best;
  }

  ready(): PoolChild[] {
    const out: PoolChild[] = [];
    for (const slot of this.slots) if (slot.child?.state === 'ready') out.push(slot.child);
    return out;
  }

  /** Lines of calls owed by the group's children (a loading child's probe and a heartbeat are not calls). */
  pending(): number {
    let n = 0;
    for (const slot of this.slots) {
      const child = slot.child;
      if (child !== undefined) n += child.state === 'ready' ? child.owedToCalls : child.unsentLines;
    }
    return n;
  }

  pids(): number[] {
    const out: number[] = [];
    for (const slot of this.slots)
      if (slot.child !== undefined && slot.child.state !== 'dead' && slot.child.pid !== undefined)
        out.push(slot.child.pid);
    return out;
  }

  /**
   * Sends a call to the ready child owing the fewest lines, or shares a batch of at least
   * 2 x MIN_CHUNK lines over several ready children (splitBatch). false: no child is ready.
   */
  route(call: Call): boolean {
    const n = call.lines.length;
    const ready = this.ready();
    if (n >= 2 * MIN_CHUNK && ready.length > 1) {
      for (const share of splitBatch(
        ready.map((c) => c.load),
        n,
        MIN_CHUNK,
      )) {
        ready[share.worker]?.enqueue({
          sink: call,
          lines: call.lines,
          start: share.start,
          count: share.count,
          answered: 0,
        });
      }
      return true;
    }
    const child = this.leastLoaded();
    if (child === undefined) return false;
    child.enqueue({ sink: call, lines: call.lines, start: 0, count: n, answered: 0 });
    return true;
  }

  /** Hands the calls that waited (here or in a narrower group) to `child` or a less loaded child of this group. */
  adopt(segs: readonly CallSegment[], child: PoolChild, handedOver: (call: Call) => void): void {
    for (const seg of segs) {
      if (seg.sink.settled) continue;
      handedOver(seg.sink);
      (this.leastLoaded() ?? child).enqueue(seg);
    }
  }

  /**
   * Re-sends the unanswered lines of a dead child's segment to a ready child, once for lines
   * the dead child may have seen (`written`), or fails the call with engine_crashed.
   */
  reroute(seg: CallSegment, written: boolean, now: number): void {
    const call = seg.sink;
    if (call.settled) return;
    if (written && call.retried) {
      call.fail(new EngineError('engine_crashed', 'fastText died twice while serving this call'));
      return;
    }
    const target = call.deadline > now ? this.leastLoaded() : undefined;
    if (target === undefined) {
      call.fail(new EngineError('engine_crashed', 'the fastText process serving this call died'));
      return;
    }
    if (written) call.retried = true;
    target.enqueue(seg);
  }

  /** Back to never started, its slots empty (after a failed engine start). */
  reset(): void {
    this.started = false;
    this.waiting = [];
    for (const slot of this.slots) {
      slot.child = undefined;
      slot.failures = 0;
      slot.preparing = false;
      slot.queued = false;
      slot.modelRejected = false;
    }
  }

  /** At stop: no restart will happen, nobody waits. */
  cancelRestarts(): void {
    this.waiting = [];
    for (const slot of this.slots) {
      if (slot.restartTimer !== undefined) clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
    }
  }

  /** idle: never started; ready: a child answers; loading: one is coming (or queued to load); failing: none is. */
  state(): TierState {
    if (!this.started) return 'idle';
    if (this.slots.some((s) => s.child?.state === 'ready')) return 'ready';
    if (this.slots.some((s) => s.preparing || s.child?.state === 'loading' || comesBack(s))) return 'loading';
    return 'failing';
  }

  /**
   * A child is loading, or one that lived will be restarted before `deadline`. A slot that
   * keeps failing (crash loop) is not waited for, so callers get engine_unavailable at once.
   */
  expectsChildBefore(deadline: number): boolean {
    if (!this.started) return true;
    for (const slot of this.slots) {
      if (slot.preparing || slot.child?.state === 'loading') return true;
      if (comesBack(slot) && (slot.queued || slot.restartAt < deadline)) return true;
    }
    return false;
  }

  /** Fails the waiting calls that can no longer expect a child in time. */
  pruneWaiting(): void {
    if (this.waiting.length === 0) return;
    const keep: CallSegment[] = [];
    for (const seg of this.waiting) {
      const call = seg.sink;
      if (call.settled) continue;
      if (this.expectsChildBefore(call.deadline)) keep.push(seg);
      else call.fail(new EngineError('engine_unavailable', `no fastText process for k=${this.k} could be started`));
    }
    this.waiting = keep;
  }
}

/**
 * A slot due to spawn (its restart timer runs, or it waits in the load queue) after a life
 * that was not itself a failed start, and whose model was not refused: worth waiting for.
 */
function comesBack(slot: Slot): boolean {
  return (slot.restartTimer !== undefined || slot.queued) && slot.failures <= 1 && !slot.modelRejected;
}

/**
 * The k of the groups besides k=1, by increasing k: each configured tier capped at
 * `widest` = min(maxK, label count), and `widest` itself, so every k has a group.
 */
export function wideTiers(configured: readonly number[], maxK: number, labelCount: number): number[] {
  const widest = Math.min(maxK, labelCount);
  const tiers = new Set<number>();
  for (const k of configured) if (k > 1) tiers.add(Math.min(Math.floor(k), widest));
  if (widest > 1) tiers.add(widest);
  return [...tiers].sort((a, b) => a - b);
}

/** Lines of these segments not answered yet. */
export function owedLines(segs: readonly CallSegment[]): number {
  let n = 0;
  for (const seg of segs) n += seg.count - seg.answered;
  return n;
}
