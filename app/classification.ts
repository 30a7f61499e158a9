// The classification path the HTTP layer calls: wait for the model (lazy mode), answer what
// the prediction cache holds, send the rest to the engine, and merge the two in order.
import { performance } from 'node:perf_hooks';
import type { Classifier, Prediction } from './engine/classifier.js';
import type { Metrics } from './metrics.js';
import type { PredictionCache } from './prediction-cache.js';
import { NotReadyError, type NotReadyReason } from './readiness.js';

/** What the path needs to know of the lifecycle: is the engine open to this request, and when will it be. */
export interface ServingGate {
  /** The engine serving now, or why not; `waitable` when the reason may clear within a request's deadline. */
  admit(): { readonly engine: Classifier } | { readonly reason: NotReadyReason; readonly waitable: boolean };
  /** Resolves at the next change of readiness (ready, a failure, drain or stop). */
  nextChange(): Promise<void>;
}

export interface ClassificationOptions {
  /** The model's MD5: the cache key's namespace. */
  readonly md5: string;
}

export class ClassificationPath {
  constructor(
    private readonly gate: ServingGate,
    private readonly cache: PredictionCache,
    private readonly metrics: Metrics,
    private readonly options: ClassificationOptions,
  ) {}

  /** Classifies through the cache; throws NotReadyError or EngineError, never hangs past the deadline. */
  async classify(texts: readonly string[], k: number, threshold: number, deadlineMs: number): Promise<Prediction[][]> {
    const engine = await this.awaitEngine(deadlineMs);
    const { cache, metrics } = this;
    const md5 = this.options.md5;
    metrics.texts.inc(texts.length);
    if (!cache.enabled) return this.predict(engine, texts, k, threshold, deadlineMs);

    const results: Prediction[][] = new Array<Prediction[]>(texts.length);
    // Distinct missed texts, and for each text of the request the one of them it takes its
    // answer from (-1: a hit). A text repeated within one request is one miss: one engine line
    // and one cache.set, so a batch that repeats each text cannot pass the doorkeeper by itself.
    const missTexts: string[] = [];
    const answerFrom: number[] = new Array<number>(texts.length);
    const firstMiss = texts.length > 1 ? new Map<string, number>() : undefined;
    let hits = 0;
    for (let i = 0; i < texts.length; i++) {
      const text = texts[i] as string;
      const hit = cache.get(md5, k, threshold, text);
      if (hit) {
        results[i] = hit as Prediction[];
        answerFrom[i] = -1;
        hits += 1;
        continue;
      }
      const seen = firstMiss?.get(text);
      if (seen !== undefined) {
        answerFrom[i] = seen;
        continue;
      }
      answerFrom[i] = missTexts.length;
      firstMiss?.set(text, missTexts.length);
      missTexts.push(text);
    }
    if (hits > 0) metrics.cacheHits.inc(hits);
    if (missTexts.length === 0) {
      // Answered from the cache: still answer in the check phase, after the poll phase has read
      // every ready socket. Answering inside each socket's read callback makes every response
      // its own wake-up of the client, and the writes cost three times as much (bench, 50
      // connections, every text cached: 12,500 req/s answered at once, 23,000 deferred; an
      // engine call is deferred by nature, its answers arrive together from the child).
      await new Promise<void>((resolve) => setImmediate(resolve));
      return results;
    }
    metrics.cacheMisses.inc(texts.length - hits);
    const predicted = await this.predict(engine, missTexts, k, threshold, deadlineMs);
    for (let j = 0; j < missTexts.length; j++)
      cache.set(md5, k, threshold, missTexts[j] as string, predicted[j] as Prediction[]);
    for (let i = 0; i < texts.length; i++) {
      const from = answerFrom[i] as number;
      if (from !== -1) results[i] = predicted[from] as Prediction[];
    }
    return results;
  }

  /**
   * The engine call every classification makes, without the cache, the metrics or the
   * readiness gate: the canaries' way in, so they test what clients get from the engine.
   */
  predict(
    engine: Classifier,
    texts: readonly string[],
    k: number,
    threshold: number,
    deadlineMs: number,
  ): Promise<Prediction[][]> {
    // The engine applies ENGINE_CALL_TIMEOUT_MS from the moment a child has the lines; a wait for
    // a loading k tier is bounded by the request's deadline only.
    return engine.predict(texts, k, threshold, deadlineMs);
  }

  /** The serving engine; in lazy mode waits for the first load up to the deadline; fails at once on a failure. */
  private async awaitEngine(deadlineMs: number): Promise<Classifier> {
    let admitted = this.gate.admit();
    if ('engine' in admitted) return admitted.engine;
    const waitMs = deadlineMs - performance.now();
    if (!admitted.waitable || waitMs <= 0) throw new NotReadyError(admitted.reason);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.gate.nextChange(), new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    admitted = this.gate.admit();
    if ('engine' in admitted) return admitted.engine;
    throw new NotReadyError(admitted.reason);
  }
}
