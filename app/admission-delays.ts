// The queue delay target and interval as they relate to the request deadline: their defaults
// when unset, and the combinations the service refuses at start (config.ts reads the values).

/** Unset, the target is 500 ms, or half a shorter request timeout. */
export function defaultTargetMs(requestTimeoutMs: number): number {
  return Math.min(500, Math.floor(requestTimeoutMs / 2));
}

/**
 * Unset, the interval is max(1000, 2 x target), or half a shorter request timeout (never below
 * the target): a short REQUEST_TIMEOUT_MS alone, or a long target alone, is no contradiction.
 */
export function defaultIntervalMs(requestTimeoutMs: number, targetMs: number): number {
  const preferred = Math.max(1000, 2 * targetMs);
  return preferred < requestTimeoutMs ? preferred : Math.max(targetMs, Math.floor(requestTimeoutMs / 2));
}

export interface AdmissionDelays {
  readonly targetMs: number;
  /** The target was set, not derived from the timeout. */
  readonly targetSet: boolean;
  readonly intervalMs: number;
  /** The interval was set, not derived. */
  readonly intervalSet: boolean;
  readonly requestTimeoutMs: number;
}

/** What is wrong with the combination, one message a problem, naming the settings to change. */
export function admissionDelayProblems(d: AdmissionDelays): string[] {
  const problems: string[] = [];
  const timeout = `REQUEST_TIMEOUT_MS=${d.requestTimeoutMs}`;
  const interval = `ADMISSION_QUEUE_DELAY_INTERVAL_MS=${d.intervalMs}`;
  // Unset, neither value can conflict with the timeout: each is derived to fit it.
  if (d.targetSet && d.targetMs >= d.requestTimeoutMs) {
    problems.push(
      `ADMISSION_QUEUE_DELAY_TARGET_MS=${d.targetMs} is not shorter than ${timeout}: ` +
        'a request admitted to wait that long would reach its deadline (504) before its turn; ' +
        'lower the target, or raise REQUEST_TIMEOUT_MS above it' +
        (d.intervalSet ? '' : ` (to ${2 * d.targetMs + 1} or more for the derived interval of twice the target)`),
    );
  }
  if (d.intervalSet && d.intervalMs >= d.requestTimeoutMs) {
    problems.push(
      `${interval} is not shorter than ${timeout}: ` +
        'a queued request would reach its deadline (504, its client waited for nothing) before the interval refuses it with a prompt 503; ' +
        'set the interval below the request timeout, or raise REQUEST_TIMEOUT_MS',
    );
  }
  if (d.intervalSet && d.targetMs > 0 && d.intervalMs < d.targetMs) {
    const target = d.targetSet
      ? `ADMISSION_QUEUE_DELAY_TARGET_MS=${d.targetMs}`
      : `the queue delay target derived from ${timeout} (${d.targetMs}, ${d.targetMs === 500 ? 'the default' : 'half of it'})`;
    problems.push(
      `${interval} is shorter than ${target}: ` +
        `a request admitted to wait up to the target would be refused before that wait ends; set the interval to at least ${d.targetMs}` +
        (d.targetSet ? ', or lower the target' : ', or set ADMISSION_QUEUE_DELAY_TARGET_MS'),
    );
  }
  return problems;
}
