// Runs the load generator (load-worker.ts) in its own process, by pid, with a deadline, and
// sums what it reports.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OUTCOMES, type LoadPlan, type LoadReport, type Outcome, type WorkerMessage } from './load-plan.js';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'load-worker.ts');

export interface LoadRun {
  /** Resolves when the worker has started sending (its first phase began). */
  readonly started: Promise<void>;
  readonly report: Promise<LoadReport>;
  /** Stops scheduling new requests; the report follows once the outstanding ones end. */
  stop(): void;
  /** Ends the worker at once (SIGKILL, by pid). */
  kill(): void;
}

/** Starts the generator; the run is killed (and its report rejected) past `deadlineMs`. */
export function startLoad(
  plan: LoadPlan,
  options: { readonly deadlineMs?: number; readonly cpus?: string } = {},
): LoadRun {
  const planned = plan.phases.reduce((ms, p) => ms + p.durationMs, 0);
  const limit = options.deadlineMs ?? planned + plan.clientTimeoutMs + 30_000;
  const node = [process.execPath, '--import', 'tsx', WORKER];
  // taskset execs node in place: the pid is the generator's, and the IPC channel survives the exec.
  const [command, ...args] = options.cpus === undefined ? node : ['taskset', '-c', options.cpus, ...node];
  const child = spawn(command as string, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
      process.kill(child.pid, 'SIGKILL');
  };
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const report = new Promise<LoadReport>((resolve, reject) => {
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`load generator still running after ${limit} ms; killed`));
    }, limit);
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'started') markStarted();
      else if (message.type === 'done') resolve(message.report);
      else reject(new Error(`load generator failed: ${message.error}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      markStarted();
      reject(new Error(`load generator exited (${code ?? signal}) without a report`));
    });
  });
  child.send({ type: 'run', plan });
  const stop = (): void => {
    if (child.connected) child.send({ type: 'stop' });
  };
  return { started, report, stop, kill };
}

export async function runLoad(
  plan: LoadPlan,
  options: { readonly deadlineMs?: number; readonly cpus?: string } = {},
): Promise<LoadReport> {
  return startLoad(plan, options).report;
}

export interface LoadSummary {
  readonly sent: number;
  readonly ok: number;
  /** 503 with a JSON error (overloaded, not_ready, engine_unavailable): an answer, not a failure. */
  readonly shed: number;
  /** 504 with a JSON error. */
  readonly deadline: number;
  readonly connectionErrors: number;
  readonly clientTimeouts: number;
  /** Anything that is not 2xx and not a JSON 503/504: the client was failed. */
  readonly failed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Latency of the 503 answers alone: a refusal must be fast to be useful (0 when none). */
  readonly shedP99Ms: number;
  readonly shedMaxMs: number;
  /** 2xx per second over the span the requests were scheduled in. */
  readonly okPerSecond: number;
}

export interface RequestFilter {
  readonly phase?: number;
  /** Scheduled send time window, epoch ms: [from, to). */
  readonly from?: number;
  readonly to?: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

export function summarize(report: LoadReport, filter: RequestFilter = {}, spanMs?: number): LoadSummary {
  const { at, ms, outcome, phase } = report.requests;
  const counts = new Map<Outcome, number>(OUTCOMES.map((o) => [o, 0]));
  const latencies: number[] = [];
  const shedLatencies: number[] = [];
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < at.length; i++) {
    const t = at[i] as number;
    if (filter.phase !== undefined && phase[i] !== filter.phase) continue;
    if (filter.from !== undefined && t < filter.from) continue;
    if (filter.to !== undefined && t >= filter.to) continue;
    const o = OUTCOMES[outcome[i] as number] as Outcome;
    counts.set(o, (counts.get(o) ?? 0) + 1);
    latencies.push(ms[i] as number);
    if (o === 'shed') shedLatencies.push(ms[i] as number);
    first = Math.min(first, t);
    last = Math.max(last, t);
  }
  latencies.sort((a, b) => a - b);
  shedLatencies.sort((a, b) => a - b);
  const get = (o: Outcome): number => counts.get(o) ?? 0;
  const span = spanMs ?? (latencies.length > 1 ? last - first : 1000);
  return {
    sent: latencies.length,
    ok: get('ok'),
    shed: get('shed'),
    deadline: get('deadline'),
    connectionErrors: get('connection_error'),
    clientTimeouts: get('client_timeout'),
    failed: get('bad_status') + get('bad_body') + get('connection_error') + get('client_timeout'),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? 0,
    shedP99Ms: percentile(shedLatencies, 99),
    shedMaxMs: shedLatencies.at(-1) ?? 0,
    okPerSecond: span > 0 ? (get('ok') * 1000) / span : 0,
  };
}
