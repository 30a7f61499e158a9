// What every scenario starts from: a real S3 (s3rver) holding the bundled model, and the pod
// the chart renders for it: the model.uri/md5 a pipeline passes, the S3 endpoint, and the
// access keys through the chart's own s3.existingSecret path (the Secret is resolved here as
// the kubelet would resolve it).
import os from 'node:os';
import { S3RVER_CREDENTIALS, startS3, type S3Fixture } from '../../helpers/s3.js';
import { BUNDLED_MD5, BUNDLED_MODEL } from '../../helpers/service.js';
import { renderPodTemplate, type Overlay, type PodTemplate } from './chart-pod.js';
import type { TimeScale } from './scale.js';

export const BUCKET = 'models';
export const KEY = 'lid/lid.176.ftz';
export const MODEL_URI = `s3://${BUCKET}/${KEY}`;
export const MODEL_MD5 = BUNDLED_MD5;
const SECRET = 's3-credentials';
const SECRETS = {
  [SECRET]: {
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  },
};

/** How far endpoint changes take to reach the proxy, in cluster seconds (scaled like the rest). */
export const ENDPOINT_PROPAGATION_SECONDS = 5;

export async function startModelBucket(): Promise<S3Fixture> {
  const s3 = await startS3();
  await s3.put(BUCKET, KEY, BUNDLED_MODEL);
  return s3;
}

/** GETs of the model object that reached s3rver. */
export function modelGets(s3: S3Fixture): number {
  return s3.count('GET', BUCKET, KEY);
}

/** `helm template` for `overlay` as a pipeline would run it against this S3 endpoint. */
export function renderFor(
  overlay: Overlay,
  s3Endpoint: string,
  extraArgs: readonly string[] = [],
): Promise<PodTemplate> {
  return renderPodTemplate({
    overlay,
    args: [
      '--set',
      `model.uri=${MODEL_URI}`,
      '--set-string',
      `model.md5=${MODEL_MD5}`,
      '--set',
      `s3.endpoint=${s3Endpoint}`,
      '--set',
      's3.forcePathStyle=true',
      '--set',
      `s3.existingSecret=${SECRET}`,
      ...extraArgs,
    ],
    secrets: SECRETS,
  });
}

/** The settings a reader needs to judge a scenario, one per line. */
export function describeTemplate(template: PodTemplate, scale: TimeScale): string[] {
  const s = (seconds: number): string => `${seconds} s (${scale.ms(seconds)} ms here)`;
  const timeout = (seconds: number): string => `${seconds} s (${scale.timeoutMs(seconds)} ms here)`;
  const lines = [`chart: helm ${template.helmMajor} template, overlay ${template.overlay}; ${scale.describe()}`];
  for (const [kind, p] of Object.entries(template.probes)) {
    const where =
      p.action.type === 'httpGet'
        ? `GET ${p.action.path} on port ${String(p.action.port)}`
        : `tcp port ${String(p.action.port)}`;
    lines.push(
      `${kind}: ${where}, delay ${s(p.initialDelaySeconds)}, period ${s(p.periodSeconds)}, timeout ${timeout(p.timeoutSeconds)}, success ${p.successThreshold}, failure ${p.failureThreshold}`,
    );
  }
  lines.push(
    `terminationGracePeriodSeconds ${s(template.terminationGracePeriodSeconds)}, preStop sleep ${s(template.preStopSleepSeconds)}`,
  );
  lines.push(
    `replicas ${template.replicas}, ${template.strategy.type} maxSurge ${template.strategy.rollingUpdate.maxSurge} maxUnavailable ${template.strategy.rollingUpdate.maxUnavailable}, minReadySeconds ${s(template.minReadySeconds)}`,
  );
  lines.push(
    `service settings run unscaled: REQUEST_TIMEOUT_MS ${template.env.REQUEST_TIMEOUT_MS}, SHUTDOWN_DRAIN_TIMEOUT_MS ${template.env.SHUTDOWN_DRAIN_TIMEOUT_MS}, LIVENESS_MAX_EVENT_LOOP_DELAY_MS ${template.env.LIVENESS_MAX_EVENT_LOOP_DELAY_MS}, ENGINE_POOL_SIZE ${template.env.ENGINE_POOL_SIZE}`,
  );
  return lines;
}

export function machine(): string {
  const [one, five] = os.loadavg();
  return `${os.availableParallelism()} cores, load average ${one?.toFixed(1)} (1 min) ${five?.toFixed(1)} (5 min)`;
}
