// One `buildah run` of a container's entrypoint: the service's JSON log lines, its process
// (found under buildah's pid, since chroot isolation shares the host PID namespace), and
// signals sent to that process the way a container runtime signals PID 1. buildah run does
// not forward SIGTERM (it ends the command abruptly), so the test signals the service itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { ISOLATION, STORAGE } from './buildah.js';
import { alive, descendants, type ProcessInfo } from './procfs.js';
import { sleep } from '../helpers/fixtures.js';

export interface LogLine {
  readonly event?: string;
  readonly [key: string]: unknown;
}

export interface RunOptions {
  readonly container: string;
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Bind mounts, host path -> container path: the volumes a read-only root filesystem needs. */
  readonly mounts: Readonly<Record<string, string>>;
}

export class ContainerRun {
  readonly logs: LogLine[] = [];
  /** Output lines that are not JSON (buildah's own messages, a crash trace). */
  readonly other: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly proc: ChildProcess;
  private readonly pids = new Set<number>();

  constructor(options: RunOptions) {
    const args = [
      ...STORAGE,
      'run',
      ...ISOLATION,
      // Binds to an image's VOLUME paths are only reliable once the container's VOLUME entries are
      // dropped (see the image test); --mount is read-only unless told rw.
      ...Object.entries(options.mounts).flatMap(([src, dst]) => ['--mount', `type=bind,src=${src},dst=${dst},rw`]),
      ...Object.entries(options.env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
      options.container,
      '--',
      ...options.command,
    ];
    this.proc = spawn('buildah', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (stream: NodeJS.ReadableStream | null): void => {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        partial += chunk;
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          try {
            this.logs.push(JSON.parse(line) as LogLine);
          } catch {
            if (line.trim() !== '') this.other.push(line);
          }
        }
      });
    };
    collect(this.proc.stdout);
    collect(this.proc.stderr);
    this.exited = new Promise((resolve) => this.proc.once('close', (code, signal) => resolve({ code, signal })));
  }

  get buildahPid(): number {
    return this.proc.pid ?? -1;
  }

  async waitForLog(match: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs.find(match);
      if (found !== undefined) return found;
      if (this.proc.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `no matching log line within ${timeoutMs} ms (exit ${this.proc.exitCode});\n${this.transcript()}`,
        );
      }
      await sleep(50);
    }
  }

  /** The service process (node) under buildah run, and everything it spawned. */
  async processes(timeoutMs: number): Promise<{ service: ProcessInfo; children: ProcessInfo[] }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const all = await descendants(this.buildahPid);
      for (const p of all) this.pids.add(p.pid);
      // By its command line: Node 24 names its main thread, and so the process's comm, "MainThread".
      const service = all.find((p) => p.cmdline.split(' ')[0]?.split('/').at(-1) === 'node');
      if (service !== undefined) return { service, children: all.filter((p) => p.ppid === service.pid) };
      if (Date.now() > deadline)
        throw new Error(`no node process under buildah run (pid ${this.buildahPid}) within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /** Sends `signal` to the service process, as a container runtime does to PID 1. */
  async signal(signal: NodeJS.Signals): Promise<void> {
    const { service } = await this.processes(5000);
    process.kill(service.pid, signal);
  }

  transcript(): string {
    return [...this.logs.map((l) => JSON.stringify(l)), ...this.other].slice(-30).join('\n');
  }

  /** Cleanup: SIGKILL every process seen under buildah run, then buildah itself (by pid). */
  async kill(): Promise<void> {
    for (const p of await descendants(this.buildahPid).catch(() => [])) this.pids.add(p.pid);
    for (const pid of this.pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await Promise.race([this.exited, sleep(5000)]);
  }
}
