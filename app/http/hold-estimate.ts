// The running mean of how long an admitted request holds its slot: the service time the
// queue-delay prediction (admission.ts) divides by. Kept apart from the queue so its rule can
// be checked on its own, sample by sample (test/unit/admission.test.ts).

/**
 * Weight of one slot-hold sample in the running mean. 1/32 follows a change in service time
 * within a few dozen completions: about 2 ms at 18k single texts a second, 60 ms at 500
 * batches a second, while one slow request moves the mean by 3%.
 */
export const HOLD_SAMPLE_WEIGHT = 1 / 32;

export class HoldEstimate {
  /** Running mean, ms (0 until the first sample). */
  private mean = 0;

  get meanMs(): number {
    return this.mean;
  }

  /** One slot hold, ms. */
  observe(heldMs: number): void {
    this.mean = this.mean === 0 ? heldMs : this.mean + HOLD_SAMPLE_WEIGHT * (heldMs - this.mean);
  }
}
