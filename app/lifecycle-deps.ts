// What the lifecycle is built from and what it hands out: the model provider and engine
// contracts it relies on, its dependencies, the model metadata /v1/model shows, and the
// model leg of the load loop (the provider's progress turned into phases and metrics).
import { performance } from 'node:perf_hooks';
import type { Config } from './config.js';
import type { Classifier, TierStats } from './engine/classifier.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import {
  isModelFailurePhase,
  type FetchedObject,
  type ModelCandidate,
  type ModelCanary,
  type ModelLock,
  type ModelPhase,
  type ModelProgress,
  type VerifiedModel,
} from './model/types.js';
import type { PredictionCache } from './prediction-cache.js';
import type { LifecycleState, NotReadyReason } from './readiness.js';

/** Where verified model files come from (app/model/store.ts in production). */
export interface ModelProvider {
  ensure(
    lock: ModelLock,
    options: { signal?: AbortSignal; onProgress?: (progress: ModelProgress) => void },
  ): Promise<VerifiedModel>;
  /** Confirms the file is still the one verified (identity, else a re-hash); throws when it is not. */
  recheck?(model: VerifiedModel): Promise<VerifiedModel>;
}

/** What the lifecycle hands the engine it creates. */
export interface EngineHooks {
  /** A child was restarted (crash, stall, pipe error). */
  readonly onRestart: (reason: string) => void;
  /**
   * Awaited before every child spawn; rejects when the model file is no longer the verified
   * one. Resolves with the identity it accepted, which afterLoad is given for that child.
   */
  readonly beforeSpawn: (modelPath: string) => Promise<unknown>;
  /** Awaited once a child loaded, before it takes a line; rejects when the file changed during the load. */
  readonly afterLoad: (modelPath: string, checked: unknown) => Promise<void>;
  /** beforeSpawn rejected: the child was not spawned. */
  readonly onModelRejected: (reason: string) => void;
}

export interface ModelInfo {
  readonly name: string;
  readonly uri: string;
  readonly md5: { readonly expected: string; readonly actual: string | null };
  /** Which digests were computed over the file served (VerifiedModel.verifiedBy); null before one is. */
  readonly verifiedBy: 'md5' | 'sha256' | 'md5+sha256' | null;
  readonly bytes: number | null;
  readonly labels: readonly string[];
  readonly loadedAt: string | null;
  readonly loadSeconds: number | null;
  readonly fromCache: boolean | null;
  readonly state: LifecycleState;
  readonly phase: ModelPhase | NotReadyReason;
  /** The serving engine's k tiers (state and ready children each); empty while no engine serves. */
  readonly tiers: readonly TierStats[];
}

export interface LifecycleDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly lock: ModelLock & { readonly name: string };
  /** Known answers the model must give before and while serving (may be empty). */
  readonly canaries: readonly ModelCanary[];
  readonly provider: ModelProvider;
  /** A new engine: at start, and after the canaries condemned the previous one (a stopped engine is final). */
  readonly createEngine: (hooks: EngineHooks) => Classifier;
  readonly cache: PredictionCache;
  /** Admitted requests and their progress, for liveness. */
  readonly requestProgress?: () => { readonly active: number; readonly lastReleaseAt: number };
  /**
   * The slowest call of the canary run that makes an engine ready, ms, reported just before
   * ready (not without canaries): the one service time measured before client traffic.
   * service.ts seeds admission's hold estimate with it.
   */
  readonly onCanaryLatency?: (slowestCallMs: number) => void;
}

/** "downloading again (12 of 80 MB)" or "verifying again": the retry after a failure, as it goes. */
function retryProgress(p: ModelProgress): string {
  if (p.phase === 'verifying') return 'verifying again';
  const mb = (bytes: number): string => `${(bytes / 1_000_000).toFixed(1)} MB`;
  return p.bytesDone !== undefined && p.bytesTotal !== undefined && p.bytesTotal > 0
    ? `downloading again (${mb(p.bytesDone)} of ${mb(p.bytesTotal)})`
    : 'downloading again';
}

/**
 * One ensure() of the provider: download metrics, and the store's progress as lifecycle
 * phases. While the store retries after a failure, the phase keeps naming that failure.
 */
export async function fetchVerified(
  deps: Pick<LifecycleDeps, 'provider' | 'lock' | 'metrics'>,
  signal: AbortSignal,
  onPhase: (phase: Exclude<ModelPhase, 'verified'>, detail?: string) => void,
  onFetched?: (fetched: FetchedObject) => void,
  /** A cached file about to be hashed; undefined once the store moved on without verifying it. */
  onCandidate?: (candidate: ModelCandidate | undefined) => void,
): Promise<VerifiedModel> {
  const { provider, lock, metrics } = deps;
  const started = performance.now();
  let lastBytes = 0;
  const model = await provider.ensure(lock, {
    signal,
    onProgress: (p) => {
      if (p.bytesDone !== undefined && p.bytesDone > lastBytes) metrics.downloadBytes.inc(p.bytesDone - lastBytes);
      // A restarted download counts from its own start.
      if (p.bytesDone !== undefined) lastBytes = p.bytesDone;
      if (p.nextRetryMs !== undefined && isModelFailurePhase(p.phase))
        metrics.modelDownloadFailures.inc({ reason: p.phase });
      if (p.lastFailure?.fetched !== undefined) onFetched?.(p.lastFailure.fetched);
      if (p.candidate !== undefined) onCandidate?.(p.candidate);
      else if (p.phase !== 'verifying' && p.phase !== 'verified') onCandidate?.(undefined);
      // The failure stays the reason through the retry, and the detail says the retry is under
      // way: an operator who just republished the object sees it being fetched.
      if (p.lastFailure && (p.phase === 'downloading' || p.phase === 'verifying'))
        onPhase(p.lastFailure.phase, `${p.lastFailure.detail}; ${retryProgress(p)}`);
      else if (p.phase !== 'verified') onPhase(p.phase, p.detail);
    },
  });
  metrics.downloadSeconds.observe((performance.now() - started) / 1000);
  return model;
}
