// One explicit factor that shrinks every probe and rollout second (periods, delays,
// timeouts, grace periods, preStop sleeps, minReadySeconds, the kubelet's restart back-off)
// so a scenario that takes minutes in a cluster takes seconds here. The service's own
// settings (request deadline, drain timeout, watchdog thresholds) are NOT scaled: it runs
// exactly as the chart configures it, only the orchestrator around it is faster.
export interface TimeScale {
  readonly factor: number;
  /** Kubernetes seconds -> harness milliseconds. */
  ms(seconds: number): number;
}

export const DEFAULT_SCALE = 0.2;

export function timeScale(factor: number): TimeScale {
  if (!(factor > 0 && factor <= 1)) throw new Error(`time scale must be in (0, 1], got ${factor}`);
  return { factor, ms: (seconds) => Math.round(seconds * 1000 * factor) };
}

/** RESILIENCE_SCALE from the environment, else DEFAULT_SCALE. */
export function timeScaleFromEnv(env: NodeJS.ProcessEnv = process.env): TimeScale {
  const raw = env.RESILIENCE_SCALE?.trim();
  return timeScale(raw === undefined || raw === '' ? DEFAULT_SCALE : Number(raw));
}
