// Prometheus metrics of the whole service, in one registry that /metrics exposes.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly requestSeconds: Histogram<'route'>;
  readonly inFlight: Gauge;
  readonly queueDepth: Gauge;
  readonly shed: Counter<'reason'>;
  readonly cacheHits: Counter;
  readonly cacheMisses: Counter;
  readonly texts: Counter;
  readonly downloadBytes: Counter;
  readonly downloadSeconds: Histogram;
  readonly modelDownloadFailures: Counter<'reason'>;
  readonly loadSeconds: Gauge;
  readonly engineRestarts: Counter;
  readonly engineLiveChildren: Gauge;
  readonly state: Gauge<'state'>;
  readonly modelInfo: Gauge<'name' | 'md5'>;
  readonly eventLoopDelaySeconds: Gauge;
  readonly canaryRuns: Counter;
  readonly canaryFailures: Counter<'kind'>;
  readonly canaryLastSuccess: Gauge;
  readonly ready: Gauge;
  readonly notReadyReason: Gauge<'reason'>;
  readonly livenessFailures: Counter<'reason'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    requests: new Counter({
      name: 'fasttext_http_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: r,
    }),
    requestSeconds: new Histogram({
      name: 'fasttext_http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    }),
    inFlight: new Gauge({
      name: 'fasttext_admission_in_flight',
      help: 'Classification requests being worked on',
      registers: r,
    }),
    queueDepth: new Gauge({
      name: 'fasttext_admission_queue_depth',
      help: 'Classification requests waiting for a slot',
      registers: r,
    }),
    shed: new Counter({
      name: 'fasttext_admission_shed_total',
      help: 'Requests admission control did not serve: refused 503/504 (reasons overloaded, queue_delay, queue_timeout), or skipped without work when their slot came after their client had closed the connection (client_gone)',
      labelNames: ['reason'],
      registers: r,
    }),
    cacheHits: new Counter({
      name: 'fasttext_cache_hits_total',
      help: 'Prediction cache hits (per text)',
      registers: r,
    }),
    cacheMisses: new Counter({
      name: 'fasttext_cache_misses_total',
      help: 'Prediction cache misses (per text)',
      registers: r,
    }),
    texts: new Counter({
      name: 'fasttext_texts_classified_total',
      help: 'Texts classified (cache hits included)',
      registers: r,
    }),
    downloadBytes: new Counter({
      name: 'fasttext_model_download_bytes_total',
      help: 'Model bytes received from the source',
      registers: r,
    }),
    downloadSeconds: new Histogram({
      name: 'fasttext_model_download_duration_seconds',
      help: 'Time to obtain a verified model file',
      buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1200],
      registers: r,
    }),
    modelDownloadFailures: new Counter({
      name: 'fasttext_model_download_failures_total',
      help: 'Failed attempts to obtain a verified model, by readiness reason (md5_mismatch, model_not_found, ...)',
      labelNames: ['reason'],
      registers: r,
    }),
    loadSeconds: new Gauge({
      name: 'fasttext_model_load_duration_seconds',
      help: 'Seconds from start of loading to ready, last load',
      registers: r,
    }),
    engineRestarts: new Counter({
      name: 'fasttext_engine_restarts_total',
      help: 'fastText child process restarts',
      registers: r,
    }),
    engineLiveChildren: new Gauge({
      name: 'fasttext_engine_live_children',
      help: 'fastText child processes answering',
      registers: r,
    }),
    state: new Gauge({
      name: 'fasttext_lifecycle_state',
      help: 'Current lifecycle state (1 for the current one)',
      labelNames: ['state'],
      registers: r,
    }),
    modelInfo: new Gauge({
      name: 'fasttext_model_info',
      help: 'The served model (value 1)',
      labelNames: ['name', 'md5'],
      registers: r,
    }),
    eventLoopDelaySeconds: new Gauge({
      name: 'fasttext_event_loop_delay_seconds',
      help: 'Event-loop delay seen by the liveness watchdog',
      registers: r,
    }),
    canaryRuns: new Counter({
      name: 'fasttext_canary_runs_total',
      help: 'Known-answer canary runs (each sends every canary on every started k tier)',
      registers: r,
    }),
    canaryFailures: new Counter({
      name: 'fasttext_canary_failures_total',
      help: 'Canary runs that failed, by kind (wrong_answer, no_answer, engine_error)',
      labelNames: ['kind'],
      registers: r,
    }),
    canaryLastSuccess: new Gauge({
      name: 'fasttext_canary_last_success_timestamp_seconds',
      help: 'Unix time of the last canary run that every canary passed',
      registers: r,
    }),
    ready: new Gauge({ name: 'fasttext_ready', help: 'Whether /ready answers 200 (1) or 503 (0)', registers: r }),
    notReadyReason: new Gauge({
      name: 'fasttext_not_ready_reason',
      help: 'Why /ready answers 503 (1 on the current reason; no series while ready)',
      labelNames: ['reason'],
      registers: r,
    }),
    livenessFailures: new Counter({
      name: 'fasttext_liveness_failures_total',
      help: '/health answers 503, by watchdog reason',
      labelNames: ['reason'],
      registers: r,
    }),
  };
}

/**
 * Publishes readiness from the lifecycle's state and model phase, with the reason /ready names:
 * ready when the state is; the state itself when draining or stopped; else the phase.
 * Only the current reason keeps a series, so alerts can carry it as a label.
 */
export function publishReadiness(metrics: Metrics, state: string, phase: string): void {
  const reason =
    state === 'ready'
      ? undefined
      : state === 'draining' || state === 'stopped'
        ? state
        : phase === 'verified'
          ? 'engine_starting'
          : phase;
  metrics.ready.set(reason === undefined ? 1 : 0);
  metrics.notReadyReason.reset();
  if (reason !== undefined) metrics.notReadyReason.set({ reason }, 1);
}
