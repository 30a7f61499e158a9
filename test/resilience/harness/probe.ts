// Container probes the way the kubelet runs them (pkg/kubelet/prober: worker.go, prober.go,
// probe/http, probe/tcp), on real sockets:
// - httpGet: a fresh connection per probe (the kubelet disables keep-alive), success for any
//   status from 200 to 399, failure for anything else, a connection error or the timeout
//   (which covers connect, headers and body). Redirects are not followed: a 3xx counts as
//   success, which is what the kubelet does for a redirect to another host; the service's
//   probe endpoints never redirect.
// - tcpSocket: success once a connection opens within the timeout.
// - The worker probes at once and then every periodSeconds; a probe slower than the period
//   is followed at once by the next (Go's time.Ticker keeps one missed tick and drops the
//   rest), which matters only when a timeout is not shorter than the period. No probe runs until
//   initialDelaySeconds after the container started (measured from the container's start,
//   as worker.go does). Liveness and readiness do not run until the startup probe has
//   succeeded; the startup probe stops once it has. A result counts only after
//   successThreshold consecutive successes or failureThreshold consecutive failures.
// - A liveness or startup failure puts the worker on hold: the container is restarted and a
//   new worker probes the new container.
import http from 'node:http';
import net from 'node:net';
import type { TimeScale } from './scale.js';

export type ProbeKind = 'startup' | 'liveness' | 'readiness';

export type ProbeAction =
  | { readonly type: 'httpGet'; readonly path: string; readonly port: number | string }
  | { readonly type: 'tcpSocket'; readonly port: number | string };

/** A probe as the pod spec has it, with Kubernetes' defaults filled in. */
export interface ProbeSpec {
  readonly action: ProbeAction;
  readonly initialDelaySeconds: number;
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
  /** Probe-level override of the pod's grace period (liveness and startup only). */
  readonly terminationGracePeriodSeconds?: number;
}

export interface ProbeAttempt {
  readonly ok: boolean;
  /** HTTP status when one arrived. */
  readonly status?: number;
  /** Why it failed: `timeout`, an errno code, or `status 503`. */
  readonly error?: string;
  /** How long the probe took, ms. */
  readonly ms: number;
}

/** One HTTP GET or TCP connect to 127.0.0.1:port, judged as the kubelet judges it. */
export function probeOnce(action: ProbeAction, port: number, timeoutMs: number): Promise<ProbeAttempt> {
  const started = performance.now();
  const elapsed = (): number => Math.round((performance.now() - started) * 10) / 10;
  return new Promise((resolve) => {
    let done = false;
    const finish = (attempt: Omit<ProbeAttempt, 'ms'>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...attempt, ms: elapsed() });
    };
    let destroy: () => void = () => undefined;
    const timer = setTimeout(() => {
      finish({ ok: false, error: 'timeout' });
      destroy();
    }, timeoutMs);

    if (action.type === 'tcpSocket') {
      const socket = net.connect({ host: '127.0.0.1', port });
      destroy = () => socket.destroy();
      socket.once('connect', () => {
        finish({ ok: true });
        socket.destroy();
      });
      socket.once('error', (error: NodeJS.ErrnoException) => finish({ ok: false, error: error.code ?? error.message }));
      return;
    }

    const req = http.get(
      {
        host: '127.0.0.1',
        port,
        path: action.path,
        agent: false,
        headers: { 'user-agent': 'kube-probe/1.30', accept: '*/*', connection: 'close' },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        // The kubelet reads (at most 10 KiB of) the body before judging; so do we.
        res.resume();
        res.once('end', () =>
          finish(
            status >= 200 && status < 400 ? { ok: true, status } : { ok: false, status, error: `status ${status}` },
          ),
        );
        res.once('error', (error: NodeJS.ErrnoException) =>
          finish({ ok: false, status, error: error.code ?? error.message }),
        );
      },
    );
    destroy = () => req.destroy();
    req.once('error', (error: NodeJS.ErrnoException) => finish({ ok: false, error: error.code ?? error.message }));
  });
}

/** Every probe the worker ran, for the scenario's assertions and logs. */
export interface ProbeRecord extends ProbeAttempt {
  readonly kind: ProbeKind;
  /** Epoch ms when the probe was sent. */
  readonly at: number;
  readonly timeoutMs: number;
}

export interface ProbeWorkerOptions {
  readonly kind: ProbeKind;
  readonly spec: ProbeSpec;
  readonly scale: TimeScale;
  /** Epoch ms the container started. */
  readonly startedAt: number;
  /** The local port for the probe's (possibly named) port; undefined while the container has not said where it listens. */
  readonly resolvePort: (port: number | string) => number | undefined;
  /** Whether the startup probe has succeeded (always true without a startup probe). */
  readonly isStarted: () => boolean;
  /** Called when a threshold is crossed: the probe's result changed. */
  readonly onResult: (result: 'success' | 'failure', last: ProbeRecord) => void;
  readonly onProbe?: (record: ProbeRecord) => void;
}

export class ProbeWorker {
  private stopped = false;
  private wake: (() => void) | undefined;
  private lastOk: boolean | undefined;
  private run = 0;
  /** The result currently in force (undefined until a threshold is first crossed). */
  result: 'success' | 'failure' | undefined;
  readonly records: ProbeRecord[] = [];

  constructor(private readonly options: ProbeWorkerOptions) {}

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async loop(): Promise<void> {
    const { spec, scale } = this.options;
    const period = scale.ms(spec.periodSeconds);
    const start = Date.now();
    let consumed = start; // the last tick the loop took
    while (!this.stopped) {
      await this.doProbe();
      if (this.stopped) return;
      // A Go time.Ticker: ticks come every period; its channel holds one, so a tick that fired
      // while the probe ran is taken at once and the others that fired meanwhile are lost.
      const now = Date.now();
      const next = consumed + period;
      if (next <= now) {
        consumed = start + Math.floor((now - start) / period) * period;
        continue;
      }
      consumed = next;
      await this.sleep(next - now);
    }
  }

  private async doProbe(): Promise<void> {
    const { kind, spec, scale, startedAt, isStarted } = this.options;
    if (Date.now() - startedAt < scale.ms(spec.initialDelaySeconds)) return;
    if (kind === 'startup' ? isStarted() : !isStarted()) return;
    const timeoutMs = scale.timeoutMs(spec.timeoutSeconds);
    const at = Date.now();
    const port = this.options.resolvePort(spec.action.port);
    const attempt: ProbeAttempt =
      port === undefined
        ? { ok: false, error: 'ECONNREFUSED (not listening yet)', ms: 0 }
        : await probeOnce(spec.action, port, timeoutMs);
    if (this.stopped) return;
    const record: ProbeRecord = { ...attempt, kind, at, timeoutMs };
    this.records.push(record);
    this.options.onProbe?.(record);

    this.run = this.lastOk === attempt.ok ? this.run + 1 : 1;
    this.lastOk = attempt.ok;
    const threshold = attempt.ok ? spec.successThreshold : spec.failureThreshold;
    if (this.run < threshold) return;
    const result = attempt.ok ? 'success' : 'failure';
    const changed = result !== this.result;
    this.result = result;
    if ((kind === 'liveness' || kind === 'startup') && result === 'failure') {
      // On hold until a new container: worker.go stops probing a container it condemned.
      this.stopped = true;
      this.options.onResult(result, record);
      return;
    }
    if (changed) this.options.onResult(result, record);
  }
}
