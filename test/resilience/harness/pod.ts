// The kubelet's part for one pod, on local processes: start the container, run its probes
// (probe.ts), restart it when liveness or startup fails or when it exits (restartPolicy
// Always, with the kubelet's crash back-off), and terminate it on deletion: Terminating
// (out of the endpoints at once), preStop sleep, SIGTERM, SIGKILL at the end of the grace
// period. The pod's emptyDir (the model cache) is a temp dir that survives container
// restarts and is removed with the pod.
//
// Restart back-off (kubelet kuberuntime doBackOff + flowcontrol.Backoff): the first restart
// is immediate; the next waits 10 s after the container finished, then 20 s, 40 s ... up
// to 300 s, all scaled; a container that ran for more than 10 minutes resets it.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { localEnv, type PodTemplate } from './chart-pod.js';
import { freePort } from '../../helpers/service.js';
import { Container, type ContainerExit } from './container.js';
import { ProbeWorker, type ProbeKind, type ProbeRecord } from './probe.js';
import type { TimeScale } from './scale.js';

export type PodEventType =
  | 'Started'
  | 'StartupSucceeded'
  | 'Ready'
  | 'NotReady'
  | 'Unhealthy'
  | 'Killing'
  | 'PreStop'
  | 'SIGTERM'
  | 'SIGKILL'
  | 'Exited'
  | 'BackOff'
  | 'Terminating'
  | 'Deleted';

export interface PodEvent {
  readonly at: number;
  readonly pod: string;
  readonly type: PodEventType;
  /** Container restarts so far when it happened. */
  readonly restarts: number;
  readonly detail?: string;
}

export interface PodProbeRecord extends ProbeRecord {
  readonly pod: string;
  /** Which container run (0 = first). */
  readonly run: number;
}

export interface PodOptions {
  readonly name: string;
  readonly template: PodTemplate;
  readonly scale: TimeScale;
  /** Added to the rendered environment after the local remaps (say why at the call site). */
  readonly extraEnv?: Readonly<Record<string, string>>;
  /** Pin the containers to these CPUs (taskset list, e.g. "1"), as a cpuset would. */
  readonly cpus?: string;
  readonly onEvent?: (event: PodEvent) => void;
}

const INITIAL_BACKOFF_S = 10;
const MAX_BACKOFF_S = 300;

/** The kubelet's per-container back-off entry: its current length and when it was last bumped. */
export interface Backoff {
  readonly seconds: number;
  readonly lastUpdate: number;
}

/** An entry older than twice the cap (10 minutes) is forgotten (flowcontrol.Backoff hasExpired). */
function expired(b: Backoff | undefined, finishedAt: number, scale: TimeScale): boolean {
  return b === undefined || finishedAt - b.lastUpdate > scale.ms(2 * MAX_BACKOFF_S);
}

/** How long to wait before restarting a container that finished at `finishedAt` (epoch ms). */
export function restartDelayMs(b: Backoff | undefined, finishedAt: number, now: number, scale: TimeScale): number {
  if (b === undefined || expired(b, finishedAt, scale)) return 0;
  return Math.max(0, finishedAt + scale.ms(b.seconds) - now);
}

/** The entry after a restart: 10 s at first (or after it expired), then doubled up to 300 s. */
export function nextBackoff(b: Backoff | undefined, finishedAt: number, now: number, scale: TimeScale): Backoff {
  if (b === undefined || expired(b, finishedAt, scale)) return { seconds: INITIAL_BACKOFF_S, lastUpdate: now };
  return { seconds: Math.min(2 * b.seconds, MAX_BACKOFF_S), lastUpdate: now };
}
/** A preStop hook that used up the grace period leaves this much for SIGTERM (kubelet's minimum). */
const MIN_GRACE_AFTER_PRESTOP_S = 2;

export class Pod {
  readonly name: string;
  readonly events: PodEvent[] = [];
  readonly probes: PodProbeRecord[] = [];
  /** Every container run, oldest first. */
  readonly runs: Container[] = [];
  restarts = 0;
  /** Epoch ms since when the pod has been ready (undefined when not ready). */
  readySince: number | undefined;
  terminating = false;
  readonly env: Readonly<Record<string, string>>;
  readonly remaps: readonly string[];

  private started = false;
  private readinessOk = false;
  private workers: ProbeWorker[] = [];
  private backoff: Backoff | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private killing: Promise<void> | undefined;
  private readonly readyListeners = new Set<(ready: boolean) => void>();
  private deleted: Promise<void> | undefined;

  private constructor(
    private readonly options: PodOptions,
    readonly cacheDir: string,
  ) {
    this.name = options.name;
    const local = localEnv(options.template, { cacheDir });
    this.env = { ...local.env, ...options.extraEnv };
    this.remaps = local.remaps;
    for (const [kind, spec] of Object.entries(options.template.probes)) {
      const port = spec.action.port;
      if (typeof port === 'string' && !options.template.ports.some((p) => p.name === port)) {
        throw new Error(`${kind} probe uses port ${port}, which the container does not declare`);
      }
    }
  }

  /** A pod with its own emptyDir; call start() to run its container. */
  static async create(options: PodOptions): Promise<Pod> {
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), `resilience-${options.name}-`));
    return new Pod(options, cacheDir);
  }

  get container(): Container | undefined {
    return this.runs.at(-1);
  }

  get ready(): boolean {
    return this.readySince !== undefined;
  }

  /** Ready without interruption for at least `ms` (a Deployment's minReadySeconds). */
  availableFor(ms: number, now = Date.now()): boolean {
    return this.readySince !== undefined && now - this.readySince >= ms;
  }

  /** The traffic endpoint (the container port named `http`), while a container listens. */
  get endpointPort(): number | undefined {
    const c = this.container;
    return c?.running ? this.resolvePort(c, 'http') : undefined;
  }

  /** Where /metrics answers: the management listener when there is one, else the traffic port. */
  get metricsPort(): number | undefined {
    const c = this.container;
    return c?.running ? (c.managementPort ?? c.trafficPort) : undefined;
  }

  onReadyChange(listener: (ready: boolean) => void): () => void {
    this.readyListeners.add(listener);
    return () => this.readyListeners.delete(listener);
  }

  start(): void {
    this.launch();
  }

  private launch(): void {
    this.startContainer().catch((error: unknown) =>
      this.event('Exited', `could not start: ${error instanceof Error ? error.message : String(error)}`),
    );
  }

  private event(type: PodEventType, detail?: string): void {
    const event: PodEvent =
      detail === undefined
        ? { at: Date.now(), pod: this.name, type, restarts: this.restarts }
        : { at: Date.now(), pod: this.name, type, restarts: this.restarts, detail };
    this.events.push(event);
    this.options.onEvent?.(event);
  }

  private updateReady(): void {
    const c = this.container;
    const ready = !this.terminating && c !== undefined && c.running && this.started && this.readinessOk;
    if (ready === this.ready) return;
    this.readySince = ready ? Date.now() : undefined;
    this.event(ready ? 'Ready' : 'NotReady');
    for (const l of this.readyListeners) l(ready);
  }

  /** containerPort (or its name) -> the local port the service listens on for it. */
  private resolvePort(c: Container, port: number | string): number | undefined {
    const { template } = this.options;
    const containerPort = typeof port === 'number' ? port : template.ports.find((p) => p.name === port)?.containerPort;
    if (containerPort === undefined) return undefined;
    if (String(containerPort) === template.env.PORT) return c.trafficPort;
    if (String(containerPort) === template.env.MANAGEMENT_PORT) return c.managementPort;
    return undefined;
  }

  private async startContainer(): Promise<void> {
    const { template, scale } = this.options;
    const env = { ...this.env };
    if (env.MANAGEMENT_PORT !== undefined) env.MANAGEMENT_PORT = String(await freePort());
    if (this.terminating) return;
    const c = new Container(env, this.options.cpus);
    const run = this.runs.length;
    this.runs.push(c);
    this.started = template.probes.startup === undefined;
    this.readinessOk = template.probes.readiness === undefined;
    this.event('Started', `pid ${c.pid}`);
    this.workers = [];
    for (const kind of ['startup', 'liveness', 'readiness'] as const) {
      const spec = template.probes[kind];
      if (spec === undefined) continue;
      const worker = new ProbeWorker({
        kind,
        spec,
        scale,
        startedAt: c.startedAt,
        resolvePort: (port) => (c.running ? this.resolvePort(c, port) : undefined),
        isStarted: () => this.started,
        onProbe: (record) => this.probes.push({ ...record, pod: this.name, run }),
        onResult: (result, last) => this.onProbeResult(c, kind, result, last),
      });
      this.workers.push(worker);
      worker.start();
    }
    this.updateReady();
    void c.exited.then((exit) => this.onExit(c, exit));
  }

  private onProbeResult(c: Container, kind: ProbeKind, result: 'success' | 'failure', last: ProbeRecord): void {
    if (c !== this.container || !c.running) return;
    if (kind === 'startup' && result === 'success') {
      this.started = true;
      this.event('StartupSucceeded');
    } else if (kind === 'readiness') {
      this.readinessOk = result === 'success';
    } else if (result === 'failure' && !this.terminating) {
      // Liveness or startup failed: kill this container (preStop included), then restart it.
      this.event('Unhealthy', `${kind} probe failed: ${last.error ?? 'failure'} (after ${last.ms} ms)`);
      const spec = this.options.template.probes[kind];
      const grace = spec?.terminationGracePeriodSeconds ?? this.options.template.terminationGracePeriodSeconds;
      this.killing = this.killContainer(c, grace, `${kind} probe failed`);
    }
    this.updateReady();
  }

  private onExit(c: Container, exit: ContainerExit): void {
    for (const w of this.workers) w.stop();
    this.updateReady();
    this.event('Exited', `pid ${c.pid}: ${exit.signal ?? `code ${String(exit.code)}`}`);
    if (this.terminating) return;
    this.scheduleRestart(exit.at);
  }

  private scheduleRestart(finishedAt: number): void {
    const { scale } = this.options;
    const b = this.backoff;
    const delay = restartDelayMs(b, finishedAt, Date.now(), scale);
    if (delay > 0) this.event('BackOff', `restarting in ${delay} ms (back-off ${b?.seconds ?? 0} s, scaled)`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.terminating) return;
      this.backoff = nextBackoff(b, finishedAt, Date.now(), scale);
      this.restarts += 1;
      this.launch();
    }, delay);
  }

  /** preStop sleep, SIGTERM, SIGKILL (of the whole container) when the grace period ends. */
  private async killContainer(c: Container, graceSeconds: number, reason: string): Promise<void> {
    const { scale, template } = this.options;
    this.event('Killing', `${reason}; grace ${graceSeconds} s`);
    const start = Date.now();
    let deadline = start + scale.ms(graceSeconds);
    if (template.preStopSleepSeconds > 0 && c.running) {
      this.event('PreStop', `sleep ${template.preStopSleepSeconds} s`);
      await Promise.race([
        c.exited,
        sleepUntil(start + Math.min(scale.ms(template.preStopSleepSeconds), deadline - start)),
      ]);
      if (Date.now() >= deadline) deadline = Date.now() + scale.ms(MIN_GRACE_AFTER_PRESTOP_S);
    }
    if (c.running) {
      this.event('SIGTERM', `pid ${c.pid}`);
      c.signal('SIGTERM');
      await Promise.race([c.exited, sleep(Math.max(0, deadline - Date.now()))]);
    }
    if (c.running) {
      this.event('SIGKILL', `pid ${c.pid} still running at the end of the grace period`);
      c.killGroup('SIGKILL');
      // A stopped process (SIGSTOP) dies of SIGKILL too.
      await c.exited;
    }
  }

  /** Deletes the pod: Terminating, out of the endpoints, preStop, SIGTERM, SIGKILL; no restart. */
  terminate(): Promise<void> {
    this.deleted ??= (async () => {
      this.terminating = true;
      this.event('Terminating');
      if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
      // Liveness and startup stop for a pod being deleted (worker.go); readiness no longer matters.
      for (const w of this.workers) w.stop();
      this.updateReady();
      if (this.killing !== undefined) await this.killing;
      const c = this.container;
      if (c?.running) await this.killContainer(c, this.options.template.terminationGracePeriodSeconds, 'pod deleted');
      await rm(this.cacheDir, { recursive: true, force: true });
      this.event('Deleted');
    })();
    return this.deleted;
  }

  /** Resolves once `predicate` holds (checked on every event and every 50 ms), or rejects at the deadline. */
  async waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() >= deadline)
        throw new Error(`${this.name}: not ${what} within ${timeoutMs} ms\n${this.timeline()}`);
      await sleep(50);
    }
  }

  /** The events, one a line, relative to the first. */
  timeline(since = this.events[0]?.at ?? Date.now()): string {
    return this.events
      .map((e) => `  +${((e.at - since) / 1000).toFixed(2)}s ${e.pod} ${e.type}${e.detail ? ` ${e.detail}` : ''}`)
      .join('\n');
  }

  probesOf(kind: ProbeKind): PodProbeRecord[] {
    return this.probes.filter((p) => p.kind === kind);
  }
}

/**
 * Waits until Date.now() reaches `at`: a timer can fire a millisecond before the wall clock
 * says its time has passed (libuv times it from the loop's cached clock), and the kubelet's
 * preStop sleep is never cut short.
 */
async function sleepUntil(at: number): Promise<void> {
  while (Date.now() < at) await sleep(at - Date.now());
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
