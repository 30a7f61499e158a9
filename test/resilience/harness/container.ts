// One run of the service's container: `node dist/app/main.js` with the pod's environment,
// in its own process group so that killing the container, as a container runtime kills
// its cgroup, also takes the fastText children with it. Signals go to the pid we started
// (or its group, whose id is that pid). Reads the JSON log lines for the listening ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { MAIN, type LogLine } from '../../helpers/service.js';

export interface ContainerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly at: number;
}

/** Every container group still alive in this test process, killed on exit whatever happens. */
const liveGroups = new Set<number>();
process.once('exit', () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

export class Container {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly startedAt = Date.now();
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  /** Ports the service reported in its `listening` line. */
  trafficPort: number | undefined;
  managementPort: number | undefined;
  exit: ContainerExit | undefined;
  readonly exited: Promise<ContainerExit>;
  private readonly listeners = new Set<(line: LogLine) => void>();

  /** `cpus`: a CPU list for taskset (e.g. "1"): the container's cpuset; undefined = any CPU. */
  constructor(env: Readonly<Record<string, string>>, cpus?: string) {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
    // taskset execs node in place, so the pid we get is the service's.
    const [command, args] =
      cpus === undefined ? [process.execPath, [MAIN]] : ['taskset', ['-c', cpus, process.execPath, MAIN]];
    this.proc = spawn(command, args, {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (this.proc.pid === undefined) throw new Error('the service did not start');
    this.pid = this.proc.pid;
    liveGroups.add(this.pid);
    let buffered = '';
    this.proc.stdout?.setEncoding('utf8');
    this.proc.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          line = { msg: text };
        }
        this.logs.push(line);
        if (line.event === 'listening') {
          this.trafficPort = typeof line.port === 'number' ? line.port : undefined;
          this.managementPort = typeof line.managementPort === 'number' ? line.managementPort : undefined;
        }
        for (const l of this.listeners) l(line);
      }
    });
    this.proc.stderr?.setEncoding('utf8');
    this.proc.stderr?.on('data', (chunk: string) => this.stderr.push(chunk));
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.exit = { code, signal, at: Date.now() };
        // The container is gone once its main process is: its other processes go too.
        this.killGroup('SIGKILL');
        liveGroups.delete(this.pid);
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** A signal to the main process only (SIGTERM, SIGSTOP, SIGCONT). */
  signal(signal: NodeJS.Signals): void {
    if (this.exit !== undefined) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // exited meanwhile
    }
  }

  /** A signal to every process of the container (the service and its fastText children). */
  killGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // the group is empty
    }
  }

  /** Pids of the fastText children, from /proc (their parent is the service). */
  async childPids(): Promise<number[]> {
    const { readdir, readFile } = await import('node:fs/promises');
    const pids: number[] = [];
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
        // Fields after the command (which may hold spaces) start after the last ')'.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[1]) === this.pid) pids.push(Number(entry));
      } catch {
        // exited while we looked
      }
    }
    return pids;
  }

  onLog(listener: (line: LogLine) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Log lines matching, so far. */
  find(match: (line: LogLine) => boolean): LogLine[] {
    return this.logs.filter(match);
  }
}
