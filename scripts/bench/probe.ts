// Single HTTP exchanges from the orchestrator: readiness polling, the first classification,
// and the /health prober that runs beside a load test. Each probe opens a fresh connection
// (agent: false), as the kubelet does, and has its own timeout.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { ProbeSummary } from './results.js';
import { SampleLog } from './stats.js';
import { DeadlineError, sleep } from './supervisor.js';

/** Which statuses count as a healthy answer. */
export type Accept = (status: number) => boolean;
export const accept2xx: Accept = (status) => status >= 200 && status < 300;

export interface Answer {
  readonly status: number;
  readonly body: string;
  readonly ms: number;
}

export interface RequestSpec {
  readonly method?: 'GET' | 'POST';
  readonly path: string;
  readonly body?: string;
}

/** One request to 127.0.0.1:port; rejects on a socket error or after `timeoutMs`. */
export function request(port: number, spec: RequestSpec, timeoutMs: number): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders =
      spec.body === undefined
        ? {}
        : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(spec.body) };
    const req = http.request(
      { host: '127.0.0.1', port, method: spec.method ?? 'GET', path: spec.path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - started,
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new DeadlineError(`${spec.method ?? 'GET'} ${spec.path}`, timeoutMs)));
    req.on('error', reject);
    req.end(spec.body);
  });
}

/** Repeats `attempt` every `intervalMs` until it returns a value; rejects past `deadlineMs` (performance.now()). */
export async function pollUntil<T>(
  attempt: () => Promise<T | undefined>,
  intervalMs: number,
  deadlineMs: number,
  what: string,
  alive: () => boolean = () => true,
): Promise<T> {
  for (;;) {
    const value = await attempt().catch(() => undefined);
    if (value !== undefined) return value;
    if (!alive()) throw new Error(`${what}: the process exited`);
    if (performance.now() > deadlineMs) throw new Error(`${what}: not within its deadline`);
    await sleep(intervalMs);
  }
}

/** Probes one route on a fixed interval until stopped; each probe waits for the previous one. */
export class Prober {
  private readonly latencies = new SampleLog();
  private count = 0;
  private failures = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly target: string,
    port: number,
    path: string,
    intervalMs: number,
    private readonly timeoutMs: number,
    accept: Accept = accept2xx,
  ) {
    this.loop = (async () => {
      while (this.running) {
        const started = performance.now();
        try {
          const answer = await request(port, { path }, timeoutMs);
          this.latencies.push(answer.ms);
          if (!accept(answer.status)) this.failures += 1;
        } catch {
          // A probe that failed counts with the time it took (the timeout, for a hang).
          this.latencies.push(performance.now() - started);
          this.failures += 1;
        }
        this.count += 1;
        const wait = intervalMs - (performance.now() - started);
        if (wait > 0 && this.running) await sleep(wait);
      }
    })();
  }

  async stop(): Promise<ProbeSummary> {
    this.running = false;
    await this.loop;
    return {
      target: this.target,
      count: this.count,
      failures: this.failures,
      timeoutMs: this.timeoutMs,
      latency: this.latencies.summarize(),
    };
  }
}
