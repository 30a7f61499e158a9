// Order statistics for the benchmark: percentiles of latency samples, and the
// median / min / max of one figure over repeated runs.

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export const EMPTY_LATENCY: LatencySummary = { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };

/** Nearest-rank percentile of an ascending array (p in [0, 100]). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  const index = Math.min(sorted.length - 1, Math.max(0, rank - 1));
  return sorted[index] as number;
}

/** Median of the values (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = Math.floor(finite.length / 2);
  return finite.length % 2 === 1
    ? (finite[mid] as number)
    : ((finite[mid - 1] as number) + (finite[mid] as number)) / 2;
}

/** Median and range over repeats; non-finite values (a failed repeat) are left out. */
export function spread(values: readonly number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), n: finite.length };
}

/** Sorts the samples in place and summarises them. */
export function summarizeLatencies(samples: Float64Array): LatencySummary {
  if (samples.length === 0) return EMPTY_LATENCY;
  samples.sort();
  let sum = 0;
  for (const v of samples) sum += v;
  return {
    count: samples.length,
    mean: sum / samples.length,
    p50: percentile(samples, 50),
    p90: percentile(samples, 90),
    p99: percentile(samples, 99),
    max: samples[samples.length - 1] as number,
  };
}

/** A growable buffer of latency samples in milliseconds: no per-sample allocation. */
export class SampleLog {
  private data = new Float64Array(4096);
  private size = 0;

  push(value: number): void {
    if (this.size === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.size++] = value;
  }

  get length(): number {
    return this.size;
  }

  summarize(): LatencySummary {
    return summarizeLatencies(this.data.subarray(0, this.size));
  }
}
