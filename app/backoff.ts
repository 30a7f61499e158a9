// Retry delays, one formula for the whole service: the model store's download retries,
// the engine's child restarts and the lifecycle's engine-start retries all wait
// min(max, base * 2^exponent). The store adds full jitter (many pods retrying one
// bucket must not do so in step); a permanent failure (a 404, a bad MD5...) waits near
// the cap at once, since hammering it fixes nothing. Pure: randomness is a parameter.

export interface Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** min(maxMs, baseMs * 2^exponent); exponent 0 gives baseMs. Exponents past 30 are treated as 30. */
export function exponentialMs(backoff: Backoff, exponent: number): number {
  const e = Math.max(0, Math.min(30, Math.floor(exponent)));
  return Math.min(backoff.maxMs, backoff.baseMs * 2 ** e);
}

/**
 * The wait before retry number `failures` (1 for the first retry): full jitter over the
 * capped exponential for a transient failure, [maxMs/2, maxMs] for a permanent one.
 * `random` returns a number in [0, 1).
 */
export function retryDelayMs(
  backoff: Backoff,
  failures: number,
  permanent: boolean,
  random: () => number = Math.random,
): number {
  if (permanent) return Math.round(backoff.maxMs / 2 + (random() * backoff.maxMs) / 2);
  return Math.round(random() * exponentialMs(backoff, failures - 1));
}
