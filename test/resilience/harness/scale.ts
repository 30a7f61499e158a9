// One explicit factor that shrinks every probe and rollout second (periods, delays,
// timeouts, grace periods, preStop sleeps, minReadySeconds, the kubelet's restart back-off,
// endpoint propagation) so a scenario that takes minutes in a cluster takes seconds here.
// The service's own settings (request deadline, drain timeout, watchdog thresholds) are NOT
// scaled: it runs exactly as the chart configures it, only the orchestrator is faster.
// One exception a scenario may ask for: real probe timeouts. A timeout is a latency the
// service must meet, not a wait; the overload scenario keeps it real so that it never asks
// more responsiveness of the service than production does (a period compressed below its
// real timeout then behaves as the kubelet's ticker does: the next probe follows at once).
export interface TimeScale {
  readonly factor: number;
  /** Whether probe timeouts are scaled too (true unless a scenario says otherwise). */
  readonly scalesTimeouts: boolean;
  /** Kubernetes seconds -> harness milliseconds. */
  ms(seconds: number): number;
  /** A probe's timeoutSeconds -> harness milliseconds. */
  timeoutMs(seconds: number): number;
  /** For the printout. */
  describe(): string;
}

export const DEFAULT_SCALE = 0.2;

export function timeScale(factor: number, options: { readonly realTimeouts?: boolean } = {}): TimeScale {
  if (!(factor > 0 && factor <= 1)) throw new Error(`time scale must be in (0, 1], got ${factor}`);
  const ms = (seconds: number): number => Math.round(seconds * 1000 * factor);
  const scalesTimeouts = options.realTimeouts !== true;
  return {
    factor,
    scalesTimeouts,
    ms,
    timeoutMs: (seconds) => (scalesTimeouts ? ms(seconds) : seconds * 1000),
    describe: () =>
      `time scale ${factor}: every probe and rollout second x ${factor}${scalesTimeouts ? '' : ', except probe timeouts (real seconds)'}`,
  };
}

/** RESILIENCE_SCALE from the environment, else DEFAULT_SCALE. */
export function timeScaleFromEnv(
  options: { readonly realTimeouts?: boolean } = {},
  env: NodeJS.ProcessEnv = process.env,
): TimeScale {
  const raw = env.RESILIENCE_SCALE?.trim();
  return timeScale(raw === undefined || raw === '' ? DEFAULT_SCALE : Number(raw), options);
}
