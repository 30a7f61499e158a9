// Filling a pool slot with a process: the beforeSpawn integrity check first (when there is
// one), then the spawn. Both can fail; the pool decides what a failure means (a failed
// start, or a restart after backoff).
import type { Call } from './call.js';
import { FastTextChild, type ProgressClock } from './child.js';
import { EngineError } from './classifier.js';
import { checkLoaded, checkModel } from './model-check.js';
import type { FastTextPoolOptions } from './pool-options.js';
import type { PoolChild, Slot } from './pool-group.js';

export interface SpawnContext {
  readonly modelPath: string;
  readonly loadTimeoutMs: number;
  /** Changes when the pool resets or stops: a check that finishes after that spawns nothing. */
  readonly generation: number;
  /** The pool still wants processes (starting or running). */
  readonly accepting: boolean;
  readonly progress: ProgressClock;
  spawned(child: PoolChild): void;
  /** The slot could not be filled; `modelRejected`: beforeSpawn refused the file. */
  failed(slot: Slot, reason: string, modelRejected: boolean): void;
}

export function fillSlot(slot: Slot, opts: FastTextPoolOptions, ctx: SpawnContext): void {
  if (opts.beforeSpawn === undefined) {
    spawnNow(slot, opts, ctx);
    return;
  }
  const generation = ctx.generation;
  slot.preparing = true;
  checkModel(opts, ctx.modelPath, ctx.loadTimeoutMs).then(
    (checked) => {
      slot.preparing = false;
      if (generation !== ctx.generation || !ctx.accepting) return;
      slot.modelRejected = false;
      spawnNow(slot, opts, ctx, checked);
    },
    (err: unknown) => {
      slot.preparing = false;
      if (generation !== ctx.generation) return;
      slot.modelRejected = true;
      ctx.failed(slot, err instanceof Error ? err.message : String(err), true);
    },
  );
}

function spawnNow(slot: Slot, opts: FastTextPoolOptions, ctx: SpawnContext, checked?: unknown): void {
  const { modelPath } = ctx;
  const loaded =
    opts.afterLoad === undefined ? undefined : () => checkLoaded(opts, modelPath, checked, ctx.loadTimeoutMs);
  let child: FastTextChild<Call>;
  try {
    child = new FastTextChild(
      opts.binary,
      modelPath,
      slot.group.k,
      slot.events,
      ctx.progress,
      opts.niceness ?? 0,
      loaded,
    );
  } catch (err) {
    // spawn() throws synchronously for some errors (EMFILE, bad arguments): a failed life.
    const reason = `spawn failed: ${err instanceof Error ? err.message : String(err)}`;
    opts.log?.error({ k: slot.group.k, reason }, 'cannot start a fastText process');
    ctx.failed(slot, reason, false);
    return;
  }
  slot.child = child;
  ctx.spawned(child);
}

/** A child died before answering its probe during start(). */
export class ChildLoadFailure extends Error {
  constructor(readonly child: PoolChild) {
    super(`fastText process ${child.pid ?? '(not spawned)'} failed to load the model`);
  }

  /** The binary's own reason; call it once the process is gone and its stderr is read. */
  toEngineError(modelPath: string): EngineError {
    return new EngineError(
      'engine_unavailable',
      `fastText could not load ${modelPath}: ${this.child.deathReason}${this.child.stderrSummary()}`,
    );
  }
}
