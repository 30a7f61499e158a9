// The running mean of how long an admitted request holds its slot: the service time the
// queue-delay prediction (admission.ts) divides by. Kept apart from the queue so its rule can
// be checked on its own, sample by sample (test/unit/hold-estimate.test.ts). Why a seed and a
// clip: docs/http.md (Admission by predicted queue delay).

/**
 * Weight of one slot-hold sample in the running mean. 1/32 follows a change in service time
 * within a few dozen completions: about 2 ms at 18k single texts a second, 60 ms at 500
 * batches a second.
 */
export const HOLD_SAMPLE_WEIGHT = 1 / 32;

/**
 * A sample counts for at most this many times the current mean. One 9 s request among 20 ms
 * ones then raises the mean by at most 7/32 (22%) instead of 14-fold; a real rise in service
 * time still comes through, by up to 22% a completion (from 1 ms, half of a new 200 ms hold
 * within 35 completions).
 */
export const HOLD_OUTLIER_FACTOR = 8;

export class HoldEstimate {
  private mean: number;
  private samples = 0;

  /** `priorMs`: the hold assumed before any request completed (0: the first sample is taken as it is). */
  constructor(priorMs: number) {
    this.mean = priorMs;
  }

  get meanMs(): number {
    return this.mean;
  }

  /**
   * A hold measured before traffic (the canaries' slowest call). It only raises the prior: one
   * text on an idle engine is the least a request can hold its slot. Ignored once requests
   * have completed: their holds are the better measure.
   */
  seed(measuredMs: number): void {
    if (this.samples === 0 && Number.isFinite(measuredMs) && measuredMs > this.mean) this.mean = measuredMs;
  }

  /** One slot hold, ms. */
  observe(heldMs: number): void {
    this.samples += 1;
    if (this.mean === 0) {
      this.mean = heldMs;
      return;
    }
    const counted = Math.min(heldMs, this.mean * HOLD_OUTLIER_FACTOR);
    this.mean += HOLD_SAMPLE_WEIGHT * (counted - this.mean);
  }
}
