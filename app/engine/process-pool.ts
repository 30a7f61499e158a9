// The Classifier as a supervised pool of `fasttext predict-prob` processes: groups by k tier,
// dispatch, retry and restart policy. The design and its measurements: docs/engine.md.
import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { exponentialMs } from '../backoff.js';
import { Call } from './call.js';
import type { ChildEvents, Orphans, ProgressClock } from './child.js';
import { EngineError, type Classifier, type EngineStats, type Prediction } from './classifier.js';
import { Deadlines } from './deadlines.js';
import type { FastTextPoolOptions } from './pool-options.js';
import { owedLines, type Group, type PoolChild, type Slot } from './pool-group.js';
import { PoolTiers } from './pool-tiers.js';
import { readCheckedLabels } from './model-check.js';
import { LoadQueue } from './load-queue.js';
import { ChildLoadFailure, fillSlot, type SpawnContext } from './spawner.js';
import { Supervisor, terminate } from './supervisor.js';

type EngineState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

export class FastTextPool implements Classifier {
  onRestart?: (reason: string) => void;

  private state: EngineState = 'idle';
  /** Bumped when the engine resets or stops: a model check finishing later spawns nothing. */
  private generation = 0;
  private modelPath = '';
  private labelList: readonly string[] = [];
  private loadTimeoutMs = 0;
  private readonly tiers: PoolTiers;
  private readonly loads: LoadQueue;
  private readonly calls = new Deadlines<Call>((call) =>
    call.fail(new EngineError('deadline_exceeded', 'fastText did not answer within the deadline')),
  );
  private supervisor: Supervisor | undefined;
  private readonly progress: ProgressClock = { at: performance.now() };
  private restarts = 0;
  /** Every process spawned and not yet gone. */
  private readonly processes = new Set<PoolChild>();
  private startWaiter: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private stopping: Promise<void> | undefined;
  private labelsAbort: AbortController | undefined;

  constructor(private readonly opts: FastTextPoolOptions) {
    if (!(opts.poolSize >= 1)) throw new RangeError('poolSize must be >= 1');
    if (!(opts.maxK >= 1)) throw new RangeError('maxK must be >= 1');
    this.tiers = new PoolTiers(this.eventsFor, opts.poolSize);
    this.loads = new LoadQueue(this.tiers.groups, opts.loadConcurrency ?? 1, (slot) => this.spawnInto(slot));
    this.onRestart = opts.onRestart;
  }

  /**
   * Resolves once a k=1 child answers its probe and the labels are read. Rejects with
   * EngineError('engine_unavailable', the binary's reason) leaving no process behind, after
   * which start() may be called again; after stop() the engine is final.
   */
  async start(modelPath: string): Promise<void> {
    if (this.state !== 'idle') throw new Error(`start() called on an engine that is ${this.state}`);
    this.state = 'starting';
    this.modelPath = modelPath;
    let bytes: number;
    try {
      bytes = (await stat(modelPath)).size;
    } catch (err) {
      if (this.state === 'starting') this.state = 'idle';
      throw new EngineError('engine_unavailable', `cannot read model ${modelPath}: ${(err as Error).message}`);
    }
    if (this.state !== 'starting') throw new EngineError('engine_unavailable', 'engine stopped during start');
    this.loadTimeoutMs = this.opts.loadTimeoutMs ?? 10_000 + Math.ceil(bytes / 10_000);
    this.progress.at = performance.now();
    this.supervisor = new Supervisor(this.tiers.groups, this.opts.stallMs, this.loadTimeoutMs);

    const firstReady = new Promise<void>((resolve, reject) => {
      this.startWaiter = { resolve, reject };
    });
    this.labelsAbort = new AbortController();
    const signal = this.labelsAbort.signal;
    const labels = readCheckedLabels(this.opts, modelPath, this.loadTimeoutMs, signal);
    this.startGroup(this.tiers.first);
    try {
      // A file the reader refuses is usually one the binary refuses too: its own reason
      // ("wrong file format", a load timeout) is the one to report, so wait for the child.
      const [list] = await Promise.all([
        labels.catch(async (err: unknown) => firstReady.then(() => Promise.reject(err))),
        firstReady,
      ]);
      this.labelList = Object.freeze(list);
    } catch (err) {
      this.labelsAbort.abort();
      if (this.stopping !== undefined) {
        await Promise.allSettled([labels, this.stopping]);
      } else {
        await Promise.allSettled([labels, this.shutdown('start failed')]);
        // Not stopped by the caller: start() may be tried again (say, on a re-downloaded model).
        if (this.stopping === undefined) this.reset();
      }
      // Built after the process is gone, when its stderr ("... wrong file format!") is all read.
      if (err instanceof ChildLoadFailure) throw err.toEngineError(modelPath);
      throw err instanceof EngineError
        ? err
        : new EngineError('engine_unavailable', err instanceof Error ? err.message : String(err));
    } finally {
      this.startWaiter = undefined;
      this.labelsAbort = undefined;
    }
    if (this.state !== 'starting') throw new EngineError('engine_unavailable', 'engine stopped during start');
    const size = this.opts.widePoolSize ?? Math.max(1, Math.floor(this.opts.poolSize / 2));
    this.tiers.addWide(this.opts.kTiers ?? [10], this.opts.maxK, this.labelList.length, size);
    this.state = 'running';
    this.opts.log?.info(
      {
        model: modelPath,
        labels: this.labelList.length,
        poolSize: this.opts.poolSize,
        kTiers: this.tiers.ks(),
      },
      'fastText engine ready',
    );
    this.warmTiers();
    // The rest of the k=1 group, queued behind the first child (and behind the warm tiers).
    this.loads.pump();
  }

  predict(texts: readonly string[], k: number, threshold: number, deadlineMs: number): Promise<Prediction[][]> {
    if (this.state !== 'running') {
      return Promise.reject(new EngineError('engine_unavailable', `the engine is ${this.state}`));
    }
    if (texts.length === 0) return Promise.resolve([]);
    if (!(deadlineMs > performance.now())) {
      return Promise.reject(new EngineError('deadline_exceeded', 'the deadline passed before the call started'));
    }
    const wanted = Number.isFinite(k) ? Math.max(1, Math.floor(k)) : 1;
    const group = this.tiers.forK(wanted);
    const callK = Math.min(wanted, group.k);
    return new Promise<Prediction[][]>((resolve, reject) => {
      const call = new Call(texts, callK, threshold, deadlineMs, resolve, reject, this.onSettled);
      if (call.lines.length === 0) {
        call.answerWithoutChildren();
        return;
      }
      this.calls.add(call);
      this.dispatch(group, call);
    });
  }

  labels(): readonly string[] {
    return this.labelList;
  }

  /** liveChildren: the k=1 group's ready children (PoolTiers.stats); lastProgressAt covers every child. */
  stats(): EngineStats {
    return this.tiers.stats(this.restarts, this.progress.at);
  }

  /** Pids of the running fastText processes, all or those of the group serving k (tests, diagnostics). */
  childPids(k?: number): number[] {
    return this.tiers.pids(k);
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown('engine stopped');
    return this.stopping;
  }

  /** Back to 'idle' after a failed start: no process, no timer, only the k=1 group. */
  private reset(): void {
    this.loads.clear();
    this.tiers.truncate();
    this.generation++;
    this.labelList = [];
    this.state = 'idle';
  }

  private readonly eventsFor = (slot: Slot): ChildEvents<Call> => {
    return {
      ready: (child) => this.onChildReady(slot, child),
      died: (child, reason, orphans) => this.onChildDied(slot, child, reason, orphans),
      exited: (child) => this.processes.delete(child),
    };
  };

  /** The k of each group: [1, ..., min(maxK, labels)] once started. */
  kTiers(): readonly number[] {
    return this.tiers.ks();
  }

  /** Each slot asks the load queue for a child: loads at once slow each other (docs/engine.md, "Loads one at a time"). */
  private startGroup(group: Group): void {
    group.started = true;
    if (group.k > 1) this.opts.log?.info({ k: group.k, size: group.slots.length }, 'starting a k>1 fastText group');
    for (const slot of group.slots) this.loads.request(slot);
  }

  /** What the spawner needs of the pool. */
  private readonly spawnContext: SpawnContext = ((pool: FastTextPool): SpawnContext => ({
    get modelPath() {
      return pool.modelPath;
    },
    get loadTimeoutMs() {
      return pool.loadTimeoutMs;
    },
    get generation() {
      return pool.generation;
    },
    get accepting() {
      return pool.state === 'starting' || pool.state === 'running';
    },
    progress: pool.progress,
    spawned: (child) => pool.processes.add(child),
    failed: (slot, reason) => {
      if (pool.state === 'starting') pool.startWaiter?.reject(new EngineError('engine_unavailable', reason));
      else if (pool.state === 'running') {
        pool.scheduleRestart(slot, reason, performance.now());
        pool.loads.pump();
      }
    },
  }))(this);

  private spawnInto(slot: Slot): void {
    fillSlot(slot, this.opts, this.spawnContext);
  }

  /**
   * To the call's own tier if a child of it is ready, else to the narrowest wider tier with a
   * ready child (lines cut to the call's k), else it waits for the first tier >= its own to
   * have a ready child, until its deadline; the own tier is started if it was not.
   */
  private dispatch(group: Group, call: Call): void {
    const { groups } = this.tiers;
    const from = groups.indexOf(group);
    for (const g of groups.slice(from)) {
      if (g.route(call)) {
        this.handedOver(call);
        if (!group.started) this.startGroup(group);
        return;
      }
    }
    if (groups.slice(from).some((g) => (g === group || g.started) && g.expectsChildBefore(call.deadline))) {
      group.waiting.push({ sink: call, lines: call.lines, start: 0, count: call.lines.length, answered: 0 });
      if (!group.started) this.startGroup(group);
    } else {
      call.fail(new EngineError('engine_unavailable', `no fastText process for k=${group.k} is running`));
    }
  }

  /** The call's lines are with a child now: its answer clock (callTimeoutMs) starts. */
  private readonly handedOver = (call: Call): void => {
    const timeout = this.opts.callTimeoutMs;
    if (timeout === undefined) return;
    call.limitDeadline(performance.now() + timeout);
    this.calls.tightened(call);
  };

  /** Every k>1 tier asks for its children (warmTiers); the load queue takes the widest first. */
  private warmTiers(): void {
    if (this.state !== 'running' || this.opts.warmTiers === false) return;
    // Widest first: each request may start a load at once, and the widest serves every k.
    for (const group of [...this.tiers.groups].reverse()) if (!group.started) this.startGroup(group);
  }

  private onChildReady(slot: Slot, child: PoolChild): void {
    if (slot.child !== child) return;
    this.opts.log?.info(
      { k: slot.group.k, childPid: child.pid, loadMs: Math.round(child.readySince - child.spawnedAt) },
      'fastText process ready',
    );
    if (this.startWaiter !== undefined && slot.group === this.tiers.first) this.startWaiter.resolve();
    // Calls waiting for this tier or a narrower one: this child prints at least their k.
    for (const g of this.tiers.groups) {
      if (g.k > slot.group.k) break;
      const waiting = g.waiting;
      g.waiting = [];
      slot.group.adopt(waiting, child, this.handedOver);
    }
    // While starting, the next loads wait for start() to add the wide tiers: widest first.
    if (this.state === 'running') this.loads.pump();
  }

  private onChildDied(slot: Slot, child: PoolChild, reason: string, orphans: Orphans<Call>): void {
    if (slot.child === child) slot.child = undefined;
    const now = performance.now();
    const level = this.state === 'running' ? 'warn' : 'info';
    this.opts.log?.[level](
      {
        k: slot.group.k,
        childPid: child.pid,
        reason,
        orphanedLines: owedLines(orphans.written) + owedLines(orphans.unsent),
      },
      'fastText process ended',
    );
    if (this.state === 'starting') {
      // Every child loads the same file: one failure to load fails the start.
      this.startWaiter?.reject(new ChildLoadFailure(child));
      return;
    }
    if (this.state !== 'running') return; // stop() fails the calls itself

    for (const seg of orphans.unsent) slot.group.reroute(seg, false, now);
    for (const seg of orphans.written) slot.group.reroute(seg, true, now);

    if (child.readySince > 0 && now - child.readySince >= (this.opts.healthyAfterMs ?? 10_000)) slot.failures = 0;
    // The reason as known when the restart happens: by then the exit of a child that died of
    // a pipe error has told its cause (SIGKILL, a status).
    this.scheduleRestart(slot, () => child.deathReason || reason, now);
    this.loads.pump();
  }

  /** Capped exponential backoff per slot; a waiting call that can no longer expect a child fails now. */
  private scheduleRestart(slot: Slot, reason: string | (() => string), now: number): void {
    const delay = exponentialMs({ baseMs: this.opts.restartBaseMs, maxMs: this.opts.restartMaxMs }, slot.failures);
    slot.failures++;
    slot.restartAt = now + delay;
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.state !== 'running') return;
      this.restarts++;
      try {
        this.onRestart?.(typeof reason === 'function' ? reason() : reason);
      } catch (err) {
        this.opts.log?.error({ err }, 'onRestart callback threw');
      }
      this.loads.request(slot, true);
    }, delay);
    slot.group.pruneWaiting();
  }

  private readonly onSettled = (call: Call): void => {
    this.calls.delete(call);
  };

  private async shutdown(why: string): Promise<void> {
    this.state = 'stopping';
    this.generation++;
    this.supervisor?.stop();
    this.calls.disarm();
    this.labelsAbort?.abort();
    this.startWaiter?.reject(new EngineError('engine_unavailable', `${why} during start`));
    this.loads.clear();
    for (const group of this.tiers.groups) group.cancelRestarts();
    for (const call of [...this.calls]) call.fail(new EngineError('engine_unavailable', why));
    const stuck = await terminate(this.processes, why, this.opts.stopTimeoutMs ?? 2000);
    if (stuck.length > 0) this.opts.log?.error({ pids: stuck }, 'fastText processes did not exit after SIGKILL');
    this.state = 'stopped';
  }
}
