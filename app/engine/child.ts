// One `fasttext predict-prob <model> - <k>` process, from spawn to death. It owns the FIFO
// that pairs each stdout line with the input line that caused it: segments (runs of one
// call's input lines) are written in order, answered in order, and a call that gave up (deadline)
// keeps its slots in the FIFO so its late lines are consumed and dropped, never handed to
// the next call. Restarts, dispatch and deadlines belong to the pool (process-pool.ts).
import { setPriority } from 'node:os';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { LineFramer, type InputLine } from './framing.js';

/** Receives the answer lines of one call. */
export interface LineSink {
  /** true once the call has resolved or failed: its lines are consumed and dropped. */
  readonly settled: boolean;
  accept(index: number, buf: Buffer, start: number, end: number): void;
}

/** `count` lines of one call, `lines[start .. start+count)`, sent to one child. */
export interface Segment<S extends LineSink = LineSink> {
  readonly sink: S;
  readonly lines: readonly InputLine[];
  readonly start: number;
  readonly count: number;
  /** Lines of this segment answered so far. */
  answered: number;
}

export type ChildState = 'loading' | 'ready' | 'dead';

export interface Orphans<S extends LineSink> {
  /** Written to the child and not (fully) answered: the child may have seen them. */
  readonly written: Segment<S>[];
  /** Still in our queue: the child never saw them. */
  readonly unsent: Segment<S>[];
}

export interface ChildEvents<S extends LineSink> {
  ready(child: FastTextChild<S>): void;
  /** The child is unusable (exited, killed, pipe broken, stalled); called once. */
  died(child: FastTextChild<S>, reason: string, orphans: Orphans<S>): void;
  /** The OS process is gone (after died, or instead of it for a spawn failure). */
  exited(child: FastTextChild<S>): void;
}

/** Shared by every child: performance.now() of the last answer line from any of them. */
export interface ProgressClock {
  at: number;
}

const PROBE_TEXT = 'fasttext-edge readiness probe';
/** An idle child's liveness line in the FIFO: its answer is consumed and dropped. */
const HEARTBEAT = 'heartbeat';
const STDERR_KEEP = 2048;

export class FastTextChild<S extends LineSink> {
  state: ChildState = 'loading';
  readonly spawnedAt = performance.now();
  readySince = 0;
  /** Last output, or the moment it last went from idle to busy: the stall clock. */
  stallClockAt = this.spawnedAt;
  /** Lines written and not yet answered (the probe included). */
  inflightLines = 0;
  /** Lines queued here and not yet written. */
  unsentLines = 0;
  /** Resolves when the OS process is gone and its pipes are drained. */
  readonly exited: Promise<void>;
  /** Why the process ended; a pipe error gets the exit appended once it comes. */
  deathReason = '';

  private diedOfPipeError = false;
  private probeAnswered = false;
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly framer = new LineFramer();
  private inflight: (Segment<S> | typeof HEARTBEAT | undefined)[] = [];
  private head = 0;
  private unsent: Segment<S>[] = [];
  private flushScheduled = false;
  private blocked = false;
  private stderrTail = '';
  private hasExited = false;
  private markExited!: () => void;

  constructor(
    readonly binary: string,
    readonly modelPath: string,
    /** The k the process was started with: every line it prints has at most k labels. */
    readonly k: number,
    private readonly events: ChildEvents<S>,
    private readonly progress: ProgressClock,
    /** Scheduling niceness of the process (0 = as Node's). */
    niceness = 0,
    /** Awaited once the model is loaded, before the child takes a line; a rejection kills it unused. */
    private readonly loaded?: () => Promise<void>,
  ) {
    this.exited = new Promise((resolve) => {
      this.markExited = resolve;
    });
    this.proc = spawn(binary, ['predict-prob', modelPath, '-', String(k)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const proc = this.proc;
    if (niceness !== 0 && proc.pid !== undefined) {
      try {
        // Inference yields the CPU to the event loop that accepts, sheds and answers probes.
        setPriority(proc.pid, niceness);
      } catch {
        // Not permitted here (e.g. a seccomp profile): run at normal priority.
      }
    }
    proc.on('error', (err) => {
      // Spawn failure (ENOENT, EACCES, EAGAIN): there is no process and maybe no 'exit'.
      this.die(`process error: ${err.message}`);
      if (proc.pid === undefined) this.onExited();
    });
    proc.on('exit', (code, signal) => {
      const how = `exited (${signal ?? `status ${code}`})`;
      // A pipe error is usually the first sign of a death whose cause only the exit tells.
      if (this.state === 'dead' && this.diedOfPipeError) this.deathReason += `; ${how}`;
      this.die(`${how}${this.stderrSummary()}`);
    });
    // 'close' follows 'exit' once stdout and stderr are drained: stderrSummary() is complete.
    proc.on('close', () => this.onExited());
    // EPIPE/ECONNRESET when the child dies with writes in flight: without this handler Node
    // would throw it as an uncaught exception (the fasttext.js hazard).
    proc.stdin.on('error', (err) => this.dieOfPipeError(`stdin error: ${err.message}`));
    proc.stdin.on('drain', () => {
      this.blocked = false;
      if (this.unsent.length > 0) this.flush();
    });
    proc.stdout.on('error', (err) => this.dieOfPipeError(`stdout error: ${err.message}`));
    proc.stdout.on('data', this.onData);
    proc.stderr.on('error', () => undefined);
    proc.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_KEEP);
    });

    // The probe line, written before anything else: the first answer proves the model is
    // loaded. Nothing is written until then, so the first line is always the probe's.
    this.inflightLines = 1;
    this.write(`${PROBE_TEXT}\n`);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Lines this child owes or will owe: what least-pending dispatch compares. */
  get load(): number {
    return this.inflightLines + this.unsentLines;
  }

  /** Lines owed to calls: the load without a heartbeat line, which is no caller's work. */
  get owedToCalls(): number {
    // A heartbeat is sent only to a child that owes nothing, so while owed it heads the FIFO.
    return this.load - (this.inflight[this.head] === HEARTBEAT ? 1 : 0);
  }

  /** Stderr's last line, for messages ("... has wrong file format!"). */
  stderrSummary(): string {
    const last = this.stderrTail.trim().split('\n').pop();
    return last ? `: ${last.trim()}` : '';
  }

  /** Queues a segment; every segment queued in the same event-loop turn goes out in one write. */
  enqueue(seg: Segment<S>): void {
    this.unsent.push(seg);
    this.unsentLines += seg.count - seg.answered;
    if (this.state === 'ready') this.scheduleFlush();
  }

  /**
   * One probe line to an idle ready child, so that a child frozen while it had no work (it
   * neither exits nor is owed anything) meets the stall check before a caller's lines do.
   */
  heartbeat(): void {
    if (this.state !== 'ready' || this.blocked || this.load > 0) return;
    this.inflight.push(HEARTBEAT);
    this.inflightLines = 1;
    this.stallClockAt = performance.now();
    this.write(`${PROBE_TEXT}\n`);
  }

  /** Kills the process and releases its work to the pool (no-op when already dead). */
  kill(reason: string, signal: NodeJS.Signals = 'SIGKILL'): void {
    this.die(reason, signal);
  }

  /** For stop(): SIGKILL a process that ignored SIGTERM. */
  forceKill(): void {
    if (!this.hasExited) this.signal('SIGKILL');
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      this.proc.kill(sig);
    } catch {
      // kill() throws only for an invalid signal; 'error' reports a failed delivery.
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.state !== 'ready' || this.blocked || this.unsent.length === 0) return;
    const queued = this.unsent;
    this.unsent = [];
    this.unsentLines = 0;
    const wasIdle = this.inflightLines === 0;
    let payload = '';
    for (const seg of queued) {
      // A call that expired while queued is dropped before it costs the child anything.
      if (seg.sink.settled) continue;
      const end = seg.start + seg.count;
      for (let i = seg.start + seg.answered; i < end; i++) payload += `${seg.lines[i] ?? ''}\n`;
      this.inflight.push(seg);
      this.inflightLines += seg.count - seg.answered;
    }
    if (payload.length === 0) return;
    if (wasIdle) this.stallClockAt = performance.now();
    this.write(payload);
  };

  private write(payload: string): void {
    const stdin = this.proc.stdin;
    if (!stdin.writable) {
      this.die('stdin is closed');
      return;
    }
    // false = past the stream's high-water mark: the data is kept, but nothing more is
    // written until 'drain'; new work waits in `unsent` (dropped there if it expires) and
    // least-pending dispatch steers it to other children meanwhile.
    if (!stdin.write(payload)) this.blocked = true;
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.state === 'dead') return;
    const now = performance.now();
    this.stallClockAt = now;
    this.progress.at = now;
    this.framer.push(chunk, this.onLine);
  };

  private readonly onLine = (buf: Buffer, start: number, end: number): void => {
    if (this.state === 'dead') return;
    if (this.state === 'loading') {
      if (this.probeAnswered) this.die('printed a line nobody asked for');
      else this.onProbeAnswered();
      return;
    }
    const seg = this.inflight[this.head];
    if (seg === undefined) {
      this.die('printed a line nobody asked for');
      return;
    }
    if (seg === HEARTBEAT) {
      this.inflightLines--;
      this.advanceHead();
      return;
    }
    const index = seg.start + seg.answered;
    seg.answered++;
    this.inflightLines--;
    if (seg.answered === seg.count) this.advanceHead();
    if (!seg.sink.settled) seg.sink.accept(index, buf, start, end);
  };

  private advanceHead(): void {
    this.inflight[this.head] = undefined;
    this.head++;
    if (this.head === this.inflight.length) {
      this.inflight = [];
      this.head = 0;
    } else if (this.head >= 1024) {
      this.inflight = this.inflight.slice(this.head);
      this.head = 0;
    }
  }

  private onProbeAnswered(): void {
    this.probeAnswered = true;
    this.inflightLines--;
    if (this.loaded === undefined) {
      this.becomeReady();
      return;
    }
    // Still 'loading' meanwhile: nothing is routed to it, and its load deadline still runs.
    this.loaded().then(
      () => {
        if (this.state === 'loading') this.becomeReady();
      },
      (err: unknown) => this.die(`not used: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  private becomeReady(): void {
    this.state = 'ready';
    this.readySince = performance.now();
    this.events.ready(this);
    if (this.unsent.length > 0) this.scheduleFlush();
  }

  private dieOfPipeError(reason: string): void {
    if (this.state !== 'dead') this.diedOfPipeError = true;
    this.die(reason);
  }

  private die(reason: string, sig: NodeJS.Signals = 'SIGKILL'): void {
    if (this.state === 'dead') return;
    this.state = 'dead';
    this.deathReason = reason;
    const written: Segment<S>[] = [];
    for (let i = this.head; i < this.inflight.length; i++) {
      const seg = this.inflight[i];
      if (seg !== undefined && seg !== HEARTBEAT && seg.answered < seg.count) written.push(seg);
    }
    const unsent = this.unsent;
    this.inflight = [];
    this.head = 0;
    this.unsent = [];
    this.inflightLines = 0;
    this.unsentLines = 0;
    if (!this.hasExited) {
      if (sig === 'SIGTERM') this.proc.stdin.end();
      this.signal(sig);
    }
    this.events.died(this, reason, { written, unsent });
  }

  private onExited(): void {
    if (this.hasExited) return;
    this.hasExited = true;
    this.markExited();
    this.events.exited(this);
  }
}
