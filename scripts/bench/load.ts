// The orchestrator's side of the load generator: one long-lived child process (started
// again if it dies), one job at a time over IPC, each with a deadline past which the
// generator is killed by pid and the job fails.
import type { LoadSpec, FromWorker, ToWorker } from './load-spec.js';
import type { LoadRun } from './results.js';
import { DeadlineError, withDeadline, type Proc, type Supervisor } from './supervisor.js';

export interface NodeScript {
  /** Node arguments before the script (e.g. --import tsx when running from source). */
  readonly execArgv: readonly string[];
  readonly path: string;
}

export class LoadGenerator {
  private proc: Proc | null = null;
  private nextId = 1;

  constructor(
    private readonly supervisor: Supervisor,
    private readonly script: NodeScript,
  ) {}

  private ensure(): Proc {
    if (this.proc === null || !this.proc.alive) {
      this.proc = this.supervisor.start('loadgen', process.execPath, [...this.script.execArgv, this.script.path], {
        ipc: true,
      });
    }
    return this.proc;
  }

  /** The generator's pid (it is started if needed). */
  get pid(): number {
    return this.ensure().pid;
  }

  async run(spec: LoadSpec): Promise<LoadRun> {
    const proc = this.ensure();
    const channel = proc.channel;
    const id = this.nextId++;
    let cleanup = (): void => undefined;
    const answer = new Promise<LoadRun>((resolve, reject) => {
      const onMessage = (message: FromWorker): void => {
        if (message.id !== id) return;
        cleanup();
        if (message.ok) resolve(message.run);
        else reject(new Error(`load generator: ${message.error}`));
      };
      const onExit = (): void => {
        cleanup();
        reject(new Error(`load generator exited during a run\n${proc.tailText()}`));
      };
      cleanup = () => {
        channel.off('message', onMessage);
        channel.off('exit', onExit);
      };
      channel.on('message', onMessage);
      channel.once('exit', onExit);
      const message: ToWorker = { id, spec };
      channel.send(message);
    });
    // Client construction, the run, and in-flight requests draining at the end.
    const deadlineMs = (spec.durationS + spec.timeoutS) * 1000 + 30_000;
    try {
      return await withDeadline(answer, deadlineMs, `load run against ${spec.contender}`);
    } catch (error) {
      if (error instanceof DeadlineError) {
        cleanup();
        await this.supervisor.stop(proc, 1000);
        this.proc = null;
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.proc === null) return;
    if (this.proc.channel.connected) this.proc.channel.disconnect();
    await this.supervisor.stop(this.proc, 3000);
    this.proc = null;
  }
}
