// Long-lived processes a test file starts (the service, prometheus) die with the ava worker
// that started them. ava ends a worker that overran its timeout with SIGTERM, which runs no
// `after.always` hook: without this, the services it had started lived on, holding ports and
// temporary directories (found after two timed-out runs left two services running).
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let installed = false;

function killAll(): void {
  for (const proc of live) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  live.clear();
}

/** Kills `proc` (SIGKILL) if this worker exits or is told to stop before `proc` has exited. */
export function reapWithWorker(proc: ChildProcess): void {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  if (installed) return;
  installed = true;
  process.once('exit', killAll);
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    process.once(signal, () => {
      killAll();
      process.exit(128 + (signal === 'SIGTERM' ? 15 : 2));
    });
}
