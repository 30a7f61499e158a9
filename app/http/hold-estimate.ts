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

/**
 * The queue-delay prediction: the mean slot hold and the mean body of completed requests, the
 * unit of work a request's body is measured in (a 13 KB batch among 60-byte texts is about
 * 200 requests' work). Bodies are the one measure of work known before a body is parsed; k,
 * which can change a byte's cost a hundredfold, is not, and the interval refuses what this
 * admits wrongly.
 */
export class WorkEstimate {
  readonly hold: HoldEstimate;
  /** Running mean of the body bytes of completed requests (0 until the first completion). */
  meanBytes = 0;

  constructor(
    priorHoldMs: number,
    private readonly maxInFlight: number,
    private readonly maxInFlightBytes: number | undefined,
  ) {
    this.hold = new HoldEstimate(priorHoldMs);
  }

  /**
   * A request of `bytes` held its slot `heldMs`. The bytes are averaged over the same
   * completions as the holds: averaged at the grant instead, a burst of large bodies raised the
   * unit of work at once while the hold still said "small", and every one of them was admitted.
   */
  completed(heldMs: number, bytes: number): void {
    this.hold.observe(heldMs);
    // With the holds' weight, so both means follow the same recent completions.
    this.meanBytes = this.meanBytes === 0 ? bytes : this.meanBytes + HOLD_SAMPLE_WEIGHT * (bytes - this.meanBytes);
  }

  /**
   * The wait predicted for a request behind `aheadBytes` of queued bodies (behind `ahead`
   * requests while no body size is known yet), ms: the work ahead in mean requests, plus one
   * for the slot to come free, times the mean hold, over the slots. Its own size is no part of
   * its wait.
   */
  predictedWaitMs(ahead: number, aheadBytes: number): number {
    const work = this.meanBytes > 0 ? aheadBytes / this.meanBytes + 1 : ahead + 1;
    return (work * this.hold.meanMs) / this.slots();
  }

  /**
   * How many requests run at once while all are busy: the count bound, or fewer when the byte
   * bound is what limits them (requests of the mean size).
   */
  private slots(): number {
    const budget = this.maxInFlightBytes;
    if (budget === undefined || this.meanBytes === 0) return this.maxInFlight;
    return Math.max(1, Math.min(this.maxInFlight, Math.floor(budget / this.meanBytes)));
  }
}
