// The pool's groups, one a k tier: which one serves a k, and what they
// report (stats, pids). Kept apart from process-pool.ts, which owns the processes, dispatch and
// restarts; this owns only the list of tiers and the questions asked of it.
import type { Call } from './call.js';
import type { ChildEvents } from './child.js';
import type { EngineStats } from './classifier.js';
import { Group, Slot, wideTiers } from './pool-group.js';

export class PoolTiers {
  /** By increasing k; [0] is the k=1 group, started with the engine. */
  readonly groups: Group[] = [];

  constructor(
    private readonly eventsFor: (slot: Slot) => ChildEvents<Call>,
    poolSize: number,
  ) {
    this.add(1, poolSize);
  }

  get first(): Group {
    return this.groups[0] as Group;
  }

  /** The groups besides k=1, once the label count is known (wideTiers in pool-group.ts). */
  addWide(configured: readonly number[], maxK: number, labelCount: number, size: number): void {
    for (const k of wideTiers(configured, maxK, labelCount)) this.add(k, size);
  }

  /** Back to the k=1 group alone, reset (after a failed start). */
  truncate(): void {
    this.groups.length = 1;
    this.groups[0]?.reset();
  }

  /** The smallest tier that prints at least k labels (the widest when none does). */
  forK(k: number): Group {
    for (const group of this.groups) if (group.k >= k) return group;
    return this.groups[this.groups.length - 1] as Group;
  }

  ks(): number[] {
    return this.groups.map((g) => g.k);
  }

  /** Pids of the running processes, all or those of the group serving k. */
  pids(k?: number): number[] {
    const pids: number[] = [];
    const only = k === undefined ? undefined : this.forK(k);
    for (const g of this.groups) if (only === undefined || g === only) pids.push(...g.pids());
    return pids;
  }

  /**
   * liveChildren counts the ready children of the k=1 group, the one most calls need:
   * readiness turns 503 when it has none, though a wider tier's child answers k=1 calls
   * meanwhile (cut to k), because one such child cannot carry the pod's share of traffic.
   * pending covers every child.
   */
  stats(restarts: number, lastProgressAt: number): EngineStats {
    let pending = 0;
    for (const group of this.groups) pending += group.pending();
    const liveChildren = this.groups[0]?.ready().length ?? 0;
    const tiers = this.groups.map((g) => ({ k: g.k, state: g.state(), children: g.ready().length }));
    return { liveChildren, pending, restarts, lastProgressAt, tiers };
  }

  private add(k: number, size: number): void {
    const group = new Group(k);
    for (let i = 0; i < size; i++) group.slots.push(new Slot(group, this.eventsFor));
    this.groups.push(group);
  }
}
