// The rolling-update run shared by rolling-update.resilience.ts (the chart's prod values: no
// request may fail) and rolling-update-control.resilience.ts (the same without the preStop
// sleep: the harness must see requests fail). Three pods behind a Service (endpoints with a
// propagation delay + a round-robin proxy), steady client traffic through it, and a new
// revision rolled out as the Deployment's maxSurge / maxUnavailable / minReadySeconds dictate.
import type { ExecutionContext } from 'ava';
import { resolveRollingUpdate, type PodTemplate } from './harness/chart-pod.js';
import { Deployment, type RolloutStep } from './harness/deployment.js';
import { Endpoints, startProxy, type Proxy } from './harness/endpoints.js';
import {
  ENDPOINT_PROPAGATION_SECONDS,
  describeTemplate,
  machine,
  renderFor,
  startModelBucket,
} from './harness/fixture.js';
import { startLoad, summarize, type LoadRun, type LoadSummary } from './harness/load.js';
import type { Pod } from './harness/pod.js';
import type { TimeScale } from './harness/scale.js';

export const RATE = 60;
const BATCH = 5;

export interface RolloutOutcome {
  readonly template: PodTemplate;
  readonly all: LoadSummary;
  /** Unexpected answers the generator saw (first few). */
  readonly samples: readonly string[];
  readonly proxyFailures: ReadonlyMap<string, number>;
  readonly routed: ReadonlyMap<string, number>;
  readonly maxSurge: number;
  readonly maxUnavailable: number;
  readonly maxLive: number;
  readonly minAvailable: number;
  readonly minEndpoints: number;
  readonly steps: readonly RolloutStep[];
  readonly oldPods: readonly Pod[];
  readonly newPods: readonly Pod[];
  readonly restarts: number;
  readonly rolloutMs: number;
}

/** Renders prod (plus `extraArgs`), brings up revision 1, rolls to revision 2 under traffic, and tears everything down. */
export async function runRollingUpdate(
  t: ExecutionContext,
  scale: TimeScale,
  extraArgs: readonly string[],
): Promise<RolloutOutcome> {
  const s3 = await startModelBucket();
  const endpoints = new Endpoints(scale.ms(ENDPOINT_PROPAGATION_SECONDS));
  let proxy: Proxy | undefined;
  let load: LoadRun | undefined;
  const deployment = new Deployment({ name: 'edge', scale, endpoints });
  try {
    const v1 = await renderFor('prod', s3.endpoint, extraArgs);
    // Revision 2: a changed service setting, which changes the pod template's checksum/config annotation.
    const v2 = await renderFor('prod', s3.endpoint, [...extraArgs, '--set', 'cache.ttlSeconds=300']);
    for (const l of [
      machine(),
      ...describeTemplate(v1, scale),
      `endpoint changes reach the proxy ${ENDPOINT_PROPAGATION_SECONDS} s (${scale.ms(ENDPOINT_PROPAGATION_SECONDS)} ms here) after the kubelet reports them`,
    ])
      t.log(l);
    if (v2.env.CACHE_TTL_SECONDS === v1.env.CACHE_TTL_SECONDS)
      throw new Error('revision 2 renders the same environment');
    const { maxSurge, maxUnavailable } = resolveRollingUpdate(v1.strategy.rollingUpdate, v1.replicas);

    await deployment.rollout(v1, 60_000);
    proxy = await startProxy(endpoints);
    await new Promise((r) => setTimeout(r, scale.ms(ENDPOINT_PROPAGATION_SECONDS) + 200));
    t.log(`revision 1 available: ${deployment.pods.map((p) => p.name).join(', ')}; endpoints ${endpoints.size}`);

    load = startLoad({
      url: `${proxy.url}/v1/classify`,
      batch: BATCH,
      clientTimeoutMs: Number(v1.env.REQUEST_TIMEOUT_MS ?? 10_000) + 5_000,
      maxSockets: 256,
      phases: [{ name: 'steady', mode: 'open', rate: RATE, durationMs: 120_000 }],
    });
    await load.started;
    await new Promise((r) => setTimeout(r, 1_000));

    // Watch the rollout: live pods (not terminating), available pods, endpoints.
    const minReadyMs = scale.ms(v1.minReadySeconds);
    let maxLive = 0;
    let minAvailable = Infinity;
    let minEndpoints = Infinity;
    const watch = setInterval(() => {
      const live = deployment.pods.filter((p) => !p.terminating);
      maxLive = Math.max(maxLive, live.length);
      minAvailable = Math.min(minAvailable, live.filter((p) => p.availableFor(minReadyMs)).length);
      minEndpoints = Math.min(minEndpoints, endpoints.size);
    }, 20);
    const rolloutStarted = Date.now();
    try {
      await deployment.rollout(v2, 90_000);
      await deployment.settled();
    } finally {
      clearInterval(watch);
    }
    const rolloutMs = Date.now() - rolloutStarted;
    await new Promise((r) => setTimeout(r, 1_000));
    load.stop();
    const run = await load.report;
    const steps = deployment.steps.filter((s) => s.at >= rolloutStarted);
    t.log(
      `steps: ${steps.map((s) => `+${((s.at - rolloutStarted) / 1000).toFixed(1)}s ${s.action} ${s.pod}`).join(', ')}`,
    );
    t.log(
      `routed: ${[...proxy.routed].map(([pod, n]) => `${pod} ${n}`).join(', ')}; proxy failures ${JSON.stringify(Object.fromEntries(proxy.failures))}`,
    );
    return {
      template: v1,
      all: summarize(run),
      samples: run.samples,
      proxyFailures: new Map(proxy.failures),
      routed: new Map(proxy.routed),
      maxSurge,
      maxUnavailable,
      maxLive,
      minAvailable,
      minEndpoints,
      steps,
      oldPods: deployment.pods.filter((p) => deployment.revisionOfPod(p) === 1),
      newPods: deployment.pods.filter((p) => deployment.revisionOfPod(p) === 2),
      restarts: deployment.pods.reduce((n, p) => n + p.restarts, 0),
      rolloutMs,
    };
  } finally {
    load?.kill();
    await deployment.delete();
    endpoints.close();
    await proxy?.close();
    await s3.close();
  }
}

/** For each old pod: how long after Killing its SIGTERM came, and how it exited. */
export function terminations(
  pods: readonly Pod[],
): { readonly pod: string; readonly preStopMs: number; readonly exit: string }[] {
  return pods.map((p) => {
    const killing = p.events.find((e) => e.type === 'Killing')?.at;
    const term = p.events.find((e) => e.type === 'SIGTERM')?.at;
    const exit = p.runs.at(-1)?.exit;
    return {
      pod: p.name,
      preStopMs: killing !== undefined && term !== undefined ? term - killing : -1,
      exit: exit?.signal ?? String(exit?.code),
    };
  });
}
