// The service's states (starting -> loading -> ready -> draining -> stopped), the model load
// loop that gets there, and the classification path the HTTP layer calls. Readiness and
// liveness are answered from state kept here: a probe never downloads, hashes or calls S3.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Config } from './config.js';
import { EngineError, type Classifier, type Prediction } from './engine/classifier.js';
import type { Logger } from './logger.js';
import { LIFECYCLE_STATES, publishReadiness, type Metrics } from './metrics.js';
import { exponentialMs } from './backoff.js';
import { isModelFailurePhase, MODEL_FAILURE_PHASES, type FetchedObject, type ModelLock, type ModelPhase, type ModelProgress, type VerifiedModel } from './model/types.js';
import type { PredictionCache } from './prediction-cache.js';
import { Watchdog, type LivenessReport } from './watchdog.js';

export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

export type NotReadyReason =
  | Exclude<ModelPhase, 'verified'>
  | 'starting'
  | 'engine_starting'
  | 'engine_failed'
  | 'engine_unavailable'
  | 'draining'
  | 'stopped';

/** Where verified model files come from (app/model/store.ts in production). */
export interface ModelProvider {
  ensure(lock: ModelLock, options: { signal?: AbortSignal; onProgress?: (progress: ModelProgress) => void }): Promise<VerifiedModel>;
}

export class NotReadyError extends Error {
  constructor(readonly reason: NotReadyReason) {
    super(`model not ready: ${reason}`);
    this.name = 'NotReadyError';
  }
}

export interface Readiness {
  readonly ready: boolean;
  readonly state: LifecycleState;
  readonly reason?: NotReadyReason;
  readonly detail?: string;
}

export interface ModelInfo {
  readonly name: string;
  readonly uri: string;
  readonly md5: { readonly expected: string; readonly actual: string | null };
  readonly bytes: number | null;
  readonly labels: readonly string[];
  readonly loadedAt: string | null;
  readonly loadSeconds: number | null;
  readonly fromCache: boolean | null;
  readonly state: LifecycleState;
  readonly phase: ModelPhase | NotReadyReason;
}

export interface LifecycleDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly lock: ModelLock;
  readonly provider: ModelProvider;
  readonly engine: Classifier;
  readonly cache: PredictionCache;
}

/** Failure phases: no point waiting for them within one request's deadline. */
const FAILED_PHASES: ReadonlySet<NotReadyReason> = new Set<NotReadyReason>([...MODEL_FAILURE_PHASES, 'engine_failed']);

export function modelName(lock: ModelLock): string {
  if (lock.name) return lock.name;
  const base = path.posix.basename(lock.uri.replace(/^[a-z0-9]+:\/*/i, '/'));
  return base.replace(/\.(ftz|bin)$/i, '').replace(/[^A-Za-z0-9_.-]/g, '_') || 'model';
}

export class Lifecycle {
  readonly name: string;
  /** The expected MD5: the only model this process will ever serve. */
  readonly md5: string;
  private current: LifecycleState = 'starting';
  private phase: NotReadyReason | 'verified' = 'starting';
  private phaseDetail: string | undefined;
  private model: VerifiedModel | undefined;
  /** What the last complete download hashed to, when it was rejected: /v1/model shows it. */
  private fetched: FetchedObject | undefined;
  private loadedAt: Date | undefined;
  private loadSeconds: number | undefined;
  private loading: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readyWaiters: Array<() => void> = [];
  readonly watchdog: Watchdog;

  constructor(private readonly deps: LifecycleDeps) {
    this.name = modelName(deps.lock);
    this.md5 = deps.lock.md5;
    this.watchdog = new Watchdog(
      { ...deps.config.liveness, requestStallMs: deps.config.admission.requestTimeoutMs + deps.config.liveness.engineStallMs },
      () => (this.model ? deps.engine.stats() : undefined),
    );
    deps.engine.onRestart = (reason) => {
      deps.metrics.engineRestarts.inc();
      deps.logger.warn({ event: 'engine_restart', reason }, 'fastText child restarted');
    };
    deps.metrics.modelInfo.set({ name: this.name, md5: deps.lock.md5 }, 1);
    this.setState('starting');
  }

  get state(): LifecycleState {
    return this.current;
  }

  isReady(): boolean {
    return this.current === 'ready';
  }

  /** Boot: start the watchdog, and the download too when MODEL_LOAD=eager. */
  boot(): void {
    this.watchdog.start();
    this.setState('loading');
    this.phase = 'pending';
    if (this.deps.config.model.load === 'eager') this.startLoading();
  }

  /** Starts the load loop once (lazy mode calls this on first demand). */
  startLoading(): void {
    if (this.loading || this.current === 'draining' || this.current === 'stopped') return;
    this.loading = this.loadLoop().catch((error: unknown) => {
      this.deps.logger.error({ event: 'load_loop_crashed', err: error }, 'model load loop ended unexpectedly');
    });
  }

  private setState(state: LifecycleState): void {
    this.current = state;
    for (const s of LIFECYCLE_STATES) this.deps.metrics.state.set({ state: s }, s === state ? 1 : 0);
    publishReadiness(this.deps.metrics, state, this.phase);
  }

  private setPhase(phase: NotReadyReason | 'verified', detail?: string): void {
    if (phase !== this.phase) this.deps.logger.info({ event: 'model_phase', phase, detail }, `model ${phase}`);
    this.phase = phase;
    this.phaseDetail = detail;
    publishReadiness(this.deps.metrics, this.current, phase);
  }

  private async loadLoop(): Promise<void> {
    const { logger, metrics, lock, provider, engine, config } = this.deps;
    const started = performance.now();
    let engineFailures = 0;
    while (!this.abort.signal.aborted) {
      this.setPhase('downloading');
      let model: VerifiedModel;
      let lastBytes = 0;
      const downloadStarted = performance.now();
      try {
        model = await provider.ensure(lock, { signal: this.abort.signal, onProgress: (p) => {
          if (p.bytesDone !== undefined && p.bytesDone > lastBytes) {
            metrics.downloadBytes.inc(p.bytesDone - lastBytes);
            lastBytes = p.bytesDone;
          } else if (p.bytesDone !== undefined) {
            lastBytes = p.bytesDone; // a restarted download counts from its own start
          }
          if (p.nextRetryMs !== undefined && isModelFailurePhase(p.phase)) metrics.modelDownloadFailures.inc({ reason: p.phase });
          if (p.lastFailure?.fetched !== undefined) this.fetched = p.lastFailure.fetched;
          // While the store retries after a failure, /ready keeps naming that failure.
          if (p.lastFailure && (p.phase === 'downloading' || p.phase === 'verifying')) this.setPhase(p.lastFailure.phase, p.lastFailure.detail);
          else if (p.phase !== 'verified') this.setPhase(p.phase, p.detail);
        } });
      } catch (error) {
        if (this.abort.signal.aborted) return;
        // The store retries on its own; an error escaping it is a bug or a fatal condition.
        this.setPhase('download_failed', error instanceof Error ? error.message : String(error));
        await this.sleep(config.model.retryMaxMs);
        continue;
      }
      metrics.downloadSeconds.observe((performance.now() - downloadStarted) / 1000);
      this.model = model;
      this.setPhase('engine_starting');
      try {
        await engine.start(model.path);
      } catch (error) {
        if (this.abort.signal.aborted) return;
        engineFailures += 1;
        const detail = error instanceof Error ? error.message : String(error);
        this.setPhase('engine_failed', detail);
        logger.error({ event: 'engine_start_failed', detail, attempt: engineFailures }, 'fastText failed to start on the verified model');
        await this.sleep(exponentialMs({ baseMs: config.model.retryBaseMs, maxMs: config.model.retryMaxMs }, engineFailures));
        continue;
      }
      if (this.abort.signal.aborted) return;
      this.loadedAt = new Date();
      this.loadSeconds = (performance.now() - started) / 1000;
      metrics.loadSeconds.set(this.loadSeconds);
      this.setPhase('verified');
      this.setState('ready');
      logger.info(
        { event: 'ready', model: this.name, md5: model.md5, bytes: model.bytes, fromCache: model.fromCache, loadSeconds: this.loadSeconds, sinceProcessStartSeconds: process.uptime(), labels: engine.labels().length },
        'model verified and loaded; ready',
      );
      for (const wake of this.readyWaiters.splice(0)) wake();
      return;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.abort.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }

  readiness(): Readiness {
    if (this.current === 'ready') {
      const stats = this.deps.engine.stats();
      this.deps.metrics.engineLiveChildren.set(stats.liveChildren);
      if (stats.liveChildren === 0) return { ready: false, state: this.current, reason: 'engine_unavailable' };
      return { ready: true, state: this.current };
    }
    if (this.current === 'draining' || this.current === 'stopped') return { ready: false, state: this.current, reason: this.current };
    // Lazy mode: a readiness check is demand too, or an orchestrator gating traffic on it would wait forever.
    this.startLoading();
    const reason = this.phase === 'verified' ? 'engine_starting' : this.phase;
    return this.phaseDetail === undefined ? { ready: false, state: this.current, reason } : { ready: false, state: this.current, reason, detail: this.phaseDetail };
  }

  liveness(): LivenessReport {
    const report = this.watchdog.report();
    this.deps.metrics.eventLoopDelaySeconds.set(report.eventLoopDelayMs / 1000);
    return report;
  }

  modelInfo(): ModelInfo {
    const { lock, engine } = this.deps;
    return {
      name: this.name,
      uri: lock.uri,
      // Before a model is verified: what the last (rejected) download actually was.
      md5: { expected: lock.md5, actual: this.model?.md5 ?? this.fetched?.md5 ?? null },
      bytes: this.model?.bytes ?? this.fetched?.bytes ?? lock.bytes ?? null,
      labels: this.current === 'ready' || this.current === 'draining' ? engine.labels() : [],
      loadedAt: this.loadedAt?.toISOString() ?? null,
      loadSeconds: this.loadSeconds ?? null,
      fromCache: this.model?.fromCache ?? null,
      state: this.current,
      phase: this.phase,
    };
  }

  /** Waits (lazy mode) for the first load, up to the deadline; fails at once on a failed phase. */
  private async awaitReady(deadlineMs: number): Promise<void> {
    if (this.current === 'ready') return;
    // Draining keeps serving what reaches it (endpoints are still being updated) if a model is loaded.
    if (this.current === 'draining' && this.loadedAt) return;
    if (this.current === 'draining' || this.current === 'stopped') throw new NotReadyError(this.current);
    this.startLoading();
    const waitMs = deadlineMs - performance.now();
    const failed = this.phase !== 'verified' && FAILED_PHASES.has(this.phase);
    if (this.deps.config.model.load !== 'lazy' || failed || waitMs <= 0) {
      throw new NotReadyError(this.phase === 'verified' ? 'engine_starting' : this.phase);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, waitMs);
      this.readyWaiters.push(done);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
    if (!this.isReady()) throw new NotReadyError(this.phase === 'verified' ? 'engine_starting' : this.phase);
  }

  /** Classifies through the cache; throws NotReadyError or EngineError, never hangs past the deadline. */
  async classify(texts: readonly string[], k: number, threshold: number, deadlineMs: number): Promise<Prediction[][]> {
    await this.awaitReady(deadlineMs);
    const { cache, engine, metrics } = this.deps;
    const md5 = this.md5;
    // The engine call gets the request's deadline: the engine applies ENGINE_CALL_TIMEOUT_MS
    // from the moment a child has the lines, so a wait for a loading k tier is bounded by
    // the request's deadline only.
    metrics.texts.inc(texts.length);
    if (!cache.enabled) return engine.predict(texts, k, threshold, deadlineMs);

    const results: Prediction[][] = new Array<Prediction[]>(texts.length);
    const missTexts: string[] = [];
    const missIndex: number[] = [];
    for (let i = 0; i < texts.length; i++) {
      const text = texts[i] as string;
      const hit = cache.get(md5, k, threshold, text);
      if (hit) results[i] = hit as Prediction[];
      else {
        missTexts.push(text);
        missIndex.push(i);
      }
    }
    if (texts.length - missTexts.length > 0) metrics.cacheHits.inc(texts.length - missTexts.length);
    if (missTexts.length === 0) {
      // Answered from the cache: still answer in the check phase, after the poll phase has read
      // every ready socket. Answering inside each socket's read callback makes every response
      // its own wake-up of the client, and the writes cost three times as much (bench, 50
      // connections, every text cached: 12,500 req/s answered at once, 23,000 deferred; an
      // engine call is deferred by nature, its answers arrive together from the child).
      await new Promise<void>((resolve) => setImmediate(resolve));
      return results;
    }
    metrics.cacheMisses.inc(missTexts.length);
    const predicted = await engine.predict(missTexts, k, threshold, deadlineMs);
    for (let j = 0; j < missIndex.length; j++) {
      const p = predicted[j] as Prediction[];
      results[missIndex[j] as number] = p;
      cache.set(md5, k, threshold, missTexts[j] as string, p);
    }
    return results;
  }

  /** SIGTERM: readiness drops at once; traffic is still served until stop(). */
  beginDraining(): void {
    if (this.current === 'draining' || this.current === 'stopped') return;
    this.setState('draining');
    this.deps.logger.info({ event: 'draining' }, 'draining: readiness is now 503');
  }

  async stop(): Promise<void> {
    this.abort.abort();
    for (const wake of this.readyWaiters.splice(0)) wake();
    this.watchdog.stop();
    await this.deps.engine.stop();
    this.deps.cache.close();
    this.setState('stopped');
  }
}

export { EngineError };
