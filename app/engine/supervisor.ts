// The pool's watch over its processes: a child that does not load in time, or owes lines
// and prints nothing for stallMs, is killed (the pool then replaces it); a child idle for
// stallMs gets a heartbeat line, so an idle child that froze is found too; at stop, every
// process gets SIGTERM, then SIGKILL.
import { performance } from 'node:perf_hooks';
import type { Group, PoolChild } from './pool-group.js';

/**
 * A heartbeat's answer is waited for at least this long, however short stallMs: it is no
 * caller's work, and at ENGINE_STALL_MS=10 a hiccup of a few ms killed healthy idle children
 * (review: 5 restarts, then 503s). A frozen idle child is still found within a second.
 */
const HEARTBEAT_MIN_WAIT_MS = 250;

export class Supervisor {
  private readonly everyMs: number;
  private lastTickAt = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly groups: readonly Group[],
    private readonly stallMs: number,
    private readonly loadTimeoutMs: number,
  ) {
    this.everyMs = Math.max(5, Math.min(250, Math.floor(stallMs / 4)));
    this.timer = setInterval(this.tick, this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private readonly tick = (): void => {
    const now = performance.now();
    const lag = now - this.lastTickAt - this.everyMs;
    this.lastTickAt = now;
    // Our own event loop was blocked: the children's output may be sitting unread in the
    // pipes. Judge them on the next tick, after the poll phase has read it.
    if (lag > this.everyMs) return;
    for (const group of this.groups) {
      for (const slot of group.slots) {
        const child = slot.child;
        if (child === undefined) continue;
        if (child.state === 'loading' && now - child.spawnedAt > this.loadTimeoutMs) {
          child.kill(`did not load the model within ${this.loadTimeoutMs} ms`);
        } else if (
          child.state === 'ready' &&
          child.inflightLines > 0 &&
          now - child.stallClockAt > this.limitFor(child)
        ) {
          child.kill(`stalled: ${child.inflightLines} lines unanswered for ${Math.round(now - child.stallClockAt)} ms`);
        } else if (child.state === 'ready' && child.load === 0 && now - child.stallClockAt > this.stallMs) {
          child.heartbeat();
        }
      }
    }
  };

  /** How long the child's owed lines may go unanswered: only a heartbeat gets the floor. */
  private limitFor(child: PoolChild): number {
    return child.owedToCalls === 0 ? Math.max(this.stallMs, HEARTBEAT_MIN_WAIT_MS) : this.stallMs;
  }
}

/**
 * SIGTERM to every process (stdin closed first), SIGKILL to those still there after
 * `stopTimeoutMs`; resolves when all are gone, or with the pids of those that are not after
 * twice that plus a second (a process in uninterruptible sleep: logged, not waited for).
 */
export async function terminate(
  processes: ReadonlySet<PoolChild>,
  why: string,
  stopTimeoutMs: number,
): Promise<number[]> {
  const children = [...processes];
  for (const child of children) child.kill(why, 'SIGTERM');
  const escalate = setTimeout(() => {
    for (const child of processes) child.forceKill();
  }, stopTimeoutMs);
  let giveUp: NodeJS.Timeout | undefined;
  const abandoned = new Promise<boolean>((resolve) => {
    giveUp = setTimeout(() => resolve(true), 2 * stopTimeoutMs + 1000);
  });
  const stuck = await Promise.race([Promise.all(children.map((c) => c.exited)).then(() => false), abandoned]);
  clearTimeout(escalate);
  clearTimeout(giveUp);
  if (!stuck) return [];
  const pids: number[] = [];
  for (const child of processes) if (child.pid !== undefined) pids.push(child.pid);
  return pids;
}
