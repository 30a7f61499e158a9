// Prediction cache (node-cache), keyed by model MD5, k, threshold and text. Bounded in keys
// and TTL; when full, new results are simply not cached until entries expire.
import NodeCache from 'node-cache';
import type { Prediction } from './engine/classifier.js';

/** Texts longer than this are not cached: their keys would cost more memory than they save work. */
const MAX_CACHED_TEXT_CHARS = 2048;

export interface PredictionCacheOptions {
  readonly enabled: boolean;
  readonly maxKeys: number;
  readonly ttlSeconds: number;
}

export class PredictionCache {
  private readonly cache: NodeCache | undefined;

  constructor(options: PredictionCacheOptions) {
    this.cache = options.enabled
      ? new NodeCache({ stdTTL: options.ttlSeconds, checkperiod: Math.max(1, Math.ceil(options.ttlSeconds / 2)), maxKeys: options.maxKeys, useClones: false })
      : undefined;
  }

  get enabled(): boolean {
    return this.cache !== undefined;
  }

  private static key(md5: string, k: number, threshold: number, text: string): string | undefined {
    return text.length > MAX_CACHED_TEXT_CHARS ? undefined : `${md5}|${k}|${threshold}|${text}`;
  }

  get(md5: string, k: number, threshold: number, text: string): readonly Prediction[] | undefined {
    if (!this.cache) return undefined;
    const key = PredictionCache.key(md5, k, threshold, text);
    return key === undefined ? undefined : this.cache.get<readonly Prediction[]>(key);
  }

  set(md5: string, k: number, threshold: number, text: string, predictions: readonly Prediction[]): void {
    if (!this.cache) return;
    const key = PredictionCache.key(md5, k, threshold, text);
    if (key === undefined) return;
    try {
      this.cache.set(key, predictions);
    } catch {
      // ECACHEFULL: the bound is doing its job.
    }
  }

  size(): number {
    return this.cache?.keys().length ?? 0;
  }

  close(): void {
    this.cache?.close();
  }
}
