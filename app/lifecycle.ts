// The service's states (starting -> loading -> ready -> draining -> stopped) and the load loop
// that gets there: model, engine, canaries. Readiness and liveness are answered from state
// kept here (lifecycle-status.ts records it, lifecycle-model.ts holds the model file): a probe
// never downloads, hashes or calls S3. docs/architecture.md tells why.
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { CanaryMonitor, canaryTiers, runCanaries, type CanaryVerdict } from './canary.js';
import { ClassificationPath, type ServingGate } from './classification.js';
import type { Classifier, Prediction } from './engine/classifier.js';
import type { EngineHooks, LifecycleDeps, ModelInfo } from './lifecycle-deps.js';
import { EarlyEngine } from './lifecycle-early-engine.js';
import { ModelSlot } from './lifecycle-model.js';
import { LifecycleStatus } from './lifecycle-status.js';
import { exponentialMs } from './backoff.js';
import { FAILED_REASONS, type LifecycleState, type NotReadyReason, type Readiness } from './readiness.js';
import { Watchdog, type LivenessReport } from './watchdog.js';

export type { EngineHooks, LifecycleDeps, ModelInfo, ModelProvider } from './lifecycle-deps.js';
export {
  LIFECYCLE_STATES,
  NotReadyError,
  type LifecycleState,
  type NotReadyReason,
  type Readiness,
} from './readiness.js';

/** After a child restart, the canaries run once the k=1 pool is whole again, checked this often. */
const CANARY_AFTER_RESTART_MS = 1000;

export class Lifecycle implements ServingGate {
  readonly name: string;
  /** The expected MD5: the only model this process will ever serve. */
  readonly md5: string;
  readonly watchdog: Watchdog;
  private readonly path: ClassificationPath;
  private readonly canaries: CanaryMonitor;
  private readonly status: LifecycleStatus;
  private readonly model: ModelSlot;
  private engine: Classifier | undefined;
  /** The engine that passed its canaries and serves clients; cleared when condemned. */
  private serving: Classifier | undefined;
  private loaded: { readonly at: Date; readonly seconds: number } | undefined;
  private loading: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readonly hooks: EngineHooks;
  private readonly earlyEngine: EarlyEngine;
  /** Engines stopped without being awaited where it happened: stop() awaits them. */
  private retired: Promise<void> = Promise.resolve();

  constructor(private readonly deps: LifecycleDeps) {
    const { config, metrics, logger } = deps;
    this.name = deps.lock.name;
    this.md5 = deps.lock.md5;
    this.status = new LifecycleStatus(metrics, logger);
    this.model = new ModelSlot(deps, this.abort.signal, (phase, detail) => this.status.setPhase(phase, detail));
    this.hooks = {
      onRestart: (reason) => {
        metrics.engineRestarts.inc();
        logger.warn({ event: 'engine_restart', reason }, 'fastText child restarted');
        this.canaries.childRestarted();
      },
      beforeSpawn: (modelPath) => this.model.recheck(modelPath, this.earlyEngine.candidate),
      afterLoad: (modelPath, checked) => this.model.loadedUnchanged(modelPath, checked),
      onModelRejected: (reason) => this.modelRejected(reason),
    };
    this.earlyEngine = new EarlyEngine(deps.createEngine, logger);
    this.canaries = new CanaryMonitor(
      () => this.runCanaries(),
      (verdict) => this.onCanaryVerdict(verdict),
      { runs: metrics.canaryRuns, failures: metrics.canaryFailures, lastSuccess: metrics.canaryLastSuccess },
      {
        intervalMs: config.canary.intervalMs,
        afterRestartMs: CANARY_AFTER_RESTART_MS,
        retryMs: Math.min(config.canary.intervalMs, CANARY_AFTER_RESTART_MS),
        childrenUp: () => (this.engine?.stats().liveChildren ?? 0) >= config.engine.poolSize,
      },
    );
    this.watchdog = new Watchdog(
      { ...config.liveness, requestStallMs: config.admission.requestTimeoutMs + config.liveness.engineStallMs },
      {
        engineStats: () => this.engine?.stats(),
        requestProgress: deps.requestProgress,
        canaryUnansweredSince: () => this.canaries.unansweredSince(),
      },
    );
    this.path = new ClassificationPath(this, deps.cache, metrics, { md5: this.md5 });
    metrics.modelInfo.set({ name: this.name, md5: this.md5 }, 1);
    this.status.setState('starting');
  }

  get state(): LifecycleState {
    return this.status.state;
  }

  /** Boot: start the watchdog, and the download too when MODEL_LOAD=eager. */
  boot(): void {
    this.watchdog.start();
    this.status.beginLoading();
    if (this.deps.config.model.load === 'eager') this.startLoading();
  }

  /** Starts the load loop unless it runs (lazy mode calls this on first demand); never once draining. */
  startLoading(): void {
    if (this.loading || this.state !== 'loading') return;
    this.loading = this.loadLoop()
      .catch((error: unknown) =>
        this.deps.logger.error({ event: 'load_loop_crashed', err: error }, 'model load loop ended unexpectedly'),
      )
      .finally(() => {
        this.loading = undefined;
        // Drain or stop began while this load ran: an engine that never served goes now.
        if (this.abort.signal.aborted && this.engine !== undefined && this.engine !== this.serving) {
          this.retire(this.engine);
          this.engine = undefined;
        }
      });
  }

  /** Classifies through the cache (app/classification.ts); throws NotReadyError or EngineError. */
  classify(texts: readonly string[], k: number, threshold: number, deadlineMs: number): Promise<Prediction[][]> {
    return this.path.classify(texts, k, threshold, deadlineMs);
  }

  admit(): { readonly engine: Classifier } | { readonly reason: NotReadyReason; readonly waitable: boolean } {
    // Draining keeps serving what still reaches it (endpoints are being updated) if a model is loaded.
    if ((this.state === 'ready' || this.state === 'draining') && this.serving) return { engine: this.serving };
    if (this.state === 'draining' || this.state === 'stopped' || this.state === 'starting')
      return { reason: this.state, waitable: false };
    this.startLoading();
    const reason = this.status.reason();
    return { reason, waitable: this.deps.config.model.load === 'lazy' && !FAILED_REASONS.has(reason) };
  }

  nextChange(): Promise<void> {
    return this.status.nextChange();
  }

  private async loadLoop(): Promise<void> {
    const { logger, metrics, config } = this.deps;
    const started = performance.now();
    let failures = 0;
    const backoff = (): Promise<void> =>
      this.sleep(exponentialMs({ baseMs: config.model.retryBaseMs, maxMs: config.model.retryMaxMs }, failures));
    while (!this.abort.signal.aborted) {
      const model = await this.model.ensure((candidate) => {
        if (candidate === undefined) void this.earlyEngine.discard('the store did not verify the file it announced');
        else if (this.engine === undefined && this.model.current === undefined && !this.abort.signal.aborted)
          this.earlyEngine.begin(candidate, this.hooks);
      });
      // An early engine begins only while no engine exists, so one adopted is the engine.
      const early = await this.earlyEngine.adopt(model);
      if (model === undefined || this.abort.signal.aborted) {
        await early?.engine.stop();
        continue;
      }
      this.model.clearRejection();
      let engine = this.engine;
      if (engine === undefined) {
        engine = early?.engine ?? this.deps.createEngine(this.hooks);
        this.engine = engine;
        this.status.setPhase('engine_starting');
        try {
          if (early === undefined) await engine.start(model.path);
          else if (!(await this.earlyEngine.loaded(early))) {
            this.engine = undefined;
            continue;
          }
        } catch (error) {
          if (this.engine === engine) this.engine = undefined;
          if (this.abort.signal.aborted) return;
          failures += 1;
          const detail = error instanceof Error ? error.message : String(error);
          const rejected = this.model.rejected;
          this.status.fail(rejected === undefined ? 'engine_failed' : 'model_changed', rejected ?? detail);
          logger.error(
            { event: 'engine_start_failed', detail, attempt: failures },
            'fastText failed to start on the verified model',
          );
          await backoff();
          continue;
        }
        if (this.abort.signal.aborted) return;
      }
      const checkedAt = performance.now();
      const verdict = await this.runCanaries();
      if (this.abort.signal.aborted) return;
      this.canaries.record(verdict, checkedAt);
      if (!verdict.ok) {
        failures += 1;
        this.condemn(verdict);
        await backoff();
        continue;
      }
      if (this.model.rejected !== undefined) continue; // the file changed while the canaries ran: fetch it again
      if (this.state !== 'loading') return; // draining began: readiness is final
      this.loaded = { at: new Date(), seconds: (performance.now() - started) / 1000 };
      metrics.loadSeconds.set(this.loaded.seconds);
      // The calls ran all at once, so the run took as long as its slowest call.
      if (verdict.calls > 0) this.deps.onCanaryLatency?.(performance.now() - checkedAt);
      this.serving = engine;
      this.status.markReady();
      this.canaries.start();
      logger.info(
        {
          event: 'ready',
          model: this.name,
          md5: model.md5,
          bytes: model.bytes,
          fromCache: model.fromCache,
          loadSeconds: this.loaded.seconds,
          sinceProcessStartSeconds: process.uptime(),
          labels: engine.labels().length,
          canaries: verdict.calls,
        },
        'model verified, loaded and answering its canaries; ready',
      );
      return;
    }
  }

  /** Canaries through the engine's client path, on k=1 and every tier clients have started. */
  private runCanaries(): Promise<CanaryVerdict> {
    const engine = this.engine;
    if (engine === undefined || this.deps.canaries.length === 0) return Promise.resolve({ ok: true, calls: 0 });
    const tiers = canaryTiers(engine.stats().tiers);
    const timeoutMs = this.deps.config.engine.callTimeoutMs;
    return runCanaries(this.deps.canaries, tiers, async (text, k) => {
      const [predictions] = await this.path.predict(engine, [text], k, 0, performance.now() + timeoutMs);
      return predictions ?? [];
    });
  }

  /** A canary failed on the engine: it never serves again; the loop builds a new one. */
  private condemn(verdict: Exclude<CanaryVerdict, { ok: true }>): void {
    const engine = this.engine;
    this.engine = undefined;
    if (this.serving === engine) this.serving = undefined;
    if (engine) this.retire(engine);
    const { kind, index, k, expected, got, detail } = verdict;
    this.deps.logger.error({ event: 'canary_failed', kind, index, k, expected, got }, detail);
    this.status.fail(kind === 'wrong_answer' ? 'canary_failed' : 'engine_failed', detail);
  }

  private onCanaryVerdict(verdict: CanaryVerdict): void {
    if (verdict.ok || this.state !== 'ready') return;
    if (verdict.kind !== 'wrong_answer') {
      // Liveness judges a canary left unanswered; an engine with no child says so in readiness.
      this.deps.logger.warn(
        { event: 'canary_unanswered', kind: verdict.kind, index: verdict.index, k: verdict.k },
        verdict.detail,
      );
      return;
    }
    this.condemn(verdict);
    this.reload();
  }

  /** Out of ready and round the load loop again (the reason is already set). */
  private reload(): void {
    this.canaries.stop();
    this.serving = undefined;
    this.status.setState('loading');
    this.startLoading();
  }

  /** The file changed under the engine: not ready until it is fetched and verified again. */
  private modelRejected(reason: string): void {
    const cause = this.model.reject(reason);
    this.deps.logger.warn(
      { event: 'model_rejected', reason },
      'the model file is no longer the verified one; fetching it again',
    );
    this.status.fail('model_changed', cause);
    if (this.state !== 'ready') return;
    // The running children loaded verified bytes: the engine stays; new ones spawn once the file is verified again.
    this.reload();
  }

  /** Backoff that ends early, quietly, when drain or stop aborts the load. */
  private sleep(ms: number): Promise<void> {
    return delay(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }

  readiness(): Readiness {
    if (this.state === 'ready') {
      const stats = (this.serving as Classifier).stats();
      this.deps.metrics.engineLiveChildren.set(stats.liveChildren);
      if (stats.liveChildren === 0) return { ready: false, state: this.state, reason: 'engine_unavailable' };
      return { ready: true, state: this.state };
    }
    if (this.state === 'draining' || this.state === 'stopped')
      return { ready: false, state: this.state, reason: this.state };
    // Lazy mode: a readiness check is demand too, or an orchestrator gating traffic on it would wait forever.
    this.startLoading();
    return this.status.notReady();
  }

  liveness(): LivenessReport {
    const report = this.watchdog.report();
    this.deps.metrics.eventLoopDelaySeconds.set(report.eventLoopDelayMs / 1000);
    return report;
  }

  modelInfo(): ModelInfo {
    return {
      name: this.name,
      uri: this.deps.lock.uri,
      ...this.model.info(),
      labels: this.serving?.labels() ?? [],
      loadedAt: this.loaded?.at.toISOString() ?? null,
      loadSeconds: this.loaded?.seconds ?? null,
      state: this.state,
      phase: this.status.phase,
      tiers: this.serving?.stats().tiers ?? [],
    };
  }

  /** SIGTERM: readiness 503 at once and for good; a loaded model serves until stop(), a load in progress is aborted. */
  beginDraining(): void {
    if (this.state === 'draining' || this.state === 'stopped') return;
    const loading = this.serving === undefined;
    this.status.setState('draining');
    this.canaries.stop();
    this.abort.abort();
    if (loading && this.engine) this.retire(this.engine);
    if (loading) this.engine = undefined;
    void this.earlyEngine.discard();
    this.deps.logger.info(
      { event: 'draining', aborted: loading ? this.status.phase : null },
      'draining: readiness is now 503',
    );
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.status.setState('stopped');
    this.watchdog.stop();
    this.canaries.stop();
    const engine = this.engine;
    this.serving = undefined;
    await Promise.all([engine?.stop(), this.earlyEngine.discard(), this.retired]);
    this.deps.cache.close();
  }

  /** Stops an engine that will never serve; stop() waits for it, so no child outlives the process. */
  private retire(engine: Classifier): void {
    this.retired = Promise.all([this.retired, engine.stop().catch(() => undefined)]).then(() => undefined);
  }
}
