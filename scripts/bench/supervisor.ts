// Every process the benchmark starts goes through here: spawned with its output captured
// (a log file, a tail kept for error messages, line listeners), stopped by its own pid
// (SIGTERM, then SIGKILL after a grace period), and its descendants (fastText children)
// killed by pid if they outlive it. stopAll() runs on completion, error and SIGINT.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { descendants, isAlive, type ProcessIdentity } from './procfs.js';

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const TAIL_LINES = 40;
const KEPT_LINES = 2000;

export class DeadlineError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no result within ${Math.round(ms)} ms`);
    this.name = 'DeadlineError';
  }
}

/** Resolves or rejects like `promise`, or rejects with DeadlineError after `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class Proc {
  readonly pid: number;
  /** performance.now() just before spawn(): the origin of cold-start times. */
  readonly spawnedAt: number;
  /** Date.now() at the same moment: the origin for the timestamps in a child's own log lines. */
  readonly spawnedEpochMs: number;
  readonly exited: Promise<ExitInfo>;
  exit: ExitInfo | null = null;
  private readonly tail: string[] = [];
  /** Every line printed, up to KEPT_LINES (a start's timeline is read from them). */
  readonly lines: string[] = [];
  private readonly listeners = new Set<(line: string) => void>();
  private readonly known = new Map<number, ProcessIdentity>();

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    spawnedAt: number,
    log: WriteStream,
  ) {
    if (child.pid === undefined) throw new Error(`${name}: spawn failed`);
    this.pid = child.pid;
    this.spawnedAt = spawnedAt;
    this.spawnedEpochMs = Date.now() - (performance.now() - spawnedAt);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      stream.on('data', (chunk: Buffer) => log.write(chunk));
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        this.tail.push(line);
        if (this.lines.length < KEPT_LINES) this.lines.push(line);
        if (this.tail.length > TAIL_LINES) this.tail.shift();
        for (const listener of this.listeners) listener(line);
      });
    }
    child.once('exit', () => setTimeout(() => log.end(), 100));
  }

  get alive(): boolean {
    return this.exit === null;
  }

  /** The last lines it printed, for error messages. */
  tailText(): string {
    return this.tail.slice(-12).join('\n');
  }

  /** Records its current descendants, so they can be killed even after it is gone. */
  rememberDescendants(): void {
    for (const d of descendants(this.pid)) this.known.set(d.pid, d);
  }

  knownDescendants(): ProcessIdentity[] {
    this.rememberDescendants();
    return [...this.known.values()];
  }

  /** The first value `match` returns for a printed line; rejects on exit or after `ms`. */
  waitForLine<T>(match: (line: string) => T | undefined, ms: number, what: string): Promise<T> {
    let unsubscribe = (): void => undefined;
    const found = new Promise<T>((resolve, reject) => {
      const listener = (line: string): void => {
        const value = match(line);
        if (value !== undefined) resolve(value);
      };
      this.listeners.add(listener);
      unsubscribe = () => this.listeners.delete(listener);
      void this.exited.then((info) =>
        reject(
          new Error(
            `${this.name} exited (${info.signal ?? `status ${info.code}`}) while waiting for ${what}\n${this.tailText()}`,
          ),
        ),
      );
    });
    return withDeadline(found, ms, `${this.name}: ${what}`).finally(unsubscribe);
  }

  /** The IPC channel, when started with `ipc: true`. */
  get channel(): ChildProcess {
    return this.child;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.exit !== null) return;
    try {
      this.child.kill(sig);
    } catch {
      // Already gone.
    }
  }
}

export interface StartOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Opens an IPC channel (for a Node child that talks with process.send). */
  readonly ipc?: boolean;
  /** Sends stdout to /dev/null (output too large to read through the orchestrator). */
  readonly discardStdout?: boolean;
}

export class Supervisor {
  private readonly live = new Set<Proc>();
  private counter = 0;

  constructor(private readonly logDir: string) {}

  start(name: string, command: string, args: readonly string[], options: StartOptions = {}): Proc {
    this.counter += 1;
    const logFile = path.join(
      this.logDir,
      `${String(this.counter).padStart(3, '0')}-${name.replace(/[^\w.-]+/g, '_')}.log`,
    );
    const log = createWriteStream(logFile);
    const spawnedAt = performance.now();
    const stdout = options.discardStdout === true ? 'ignore' : 'pipe';
    const stdio: ('ignore' | 'pipe' | 'ipc')[] =
      options.ipc === true ? ['ignore', stdout, 'pipe', 'ipc'] : ['ignore', stdout, 'pipe'];
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio });
    const proc = new Proc(name, child, spawnedAt, log);
    this.live.add(proc);
    void proc.exited.then(() => this.live.delete(proc));
    return proc;
  }

  /** SIGTERM, SIGKILL after `graceMs`, then SIGKILL whatever it left behind, each by pid. */
  async stop(proc: Proc, graceMs = 5000): Promise<ExitInfo> {
    const leftovers = proc.knownDescendants();
    proc.signal('SIGTERM');
    let exit = await Promise.race([proc.exited, sleep(graceMs).then(() => null)]);
    if (exit === null) {
      proc.signal('SIGKILL');
      exit = await Promise.race([proc.exited, sleep(3000).then(() => null)]);
    }
    await this.reap(leftovers);
    this.live.delete(proc);
    return exit ?? { code: null, signal: 'SIGKILL' };
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((p) => this.stop(p, 3000)));
  }

  /** Descendants get up to 2 s to exit on their own (stdin closed), then SIGKILL by pid. */
  private async reap(identities: readonly ProcessIdentity[]): Promise<void> {
    const until = performance.now() + 2000;
    while (identities.some(isAlive) && performance.now() < until) await sleep(50);
    for (const d of identities) {
      if (!isAlive(d)) continue;
      try {
        process.kill(d.pid, 'SIGKILL');
      } catch {
        // Exited between the check and the kill.
      }
    }
  }
}
