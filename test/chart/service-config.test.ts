// The chart and the service agree: the environment a rendered pod would get (the ConfigMap
// through envFrom, then the container's own env, which wins, as in Kubernetes) is accepted by
// the service's own loadConfig, and every chart value lands in the setting it names. A typo in
// an environment variable name would leave the service's default in place and fail here.
import test from 'ava';
import { loadConfig, type Config } from '../../app/config.js';
import { ENVIRONMENTS, PIPELINE_MD5, findOne, renderChart, type Manifest } from './chart-helm.js';

interface Container {
  env?: { name: string; value?: string }[];
  ports: { name: string; containerPort: number }[];
  volumeMounts: { name: string; mountPath: string }[];
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  livenessProbe?: { httpGet?: { port: string | number } };
  readinessProbe?: { httpGet?: { port: string | number } };
  startupProbe?: { httpGet?: { port: string | number } };
}
interface PodSpec {
  terminationGracePeriodSeconds: number;
  containers: Container[];
}

function podParts(manifests: readonly Manifest[]): { container: Container; pod: PodSpec; env: Record<string, string> } {
  const deployment = findOne(manifests, 'Deployment') as { spec: { template: { spec: PodSpec } } };
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  if (container === undefined) throw new Error('the Deployment has no container');
  const data = (findOne(manifests, 'ConfigMap') as { data: Record<string, string> }).data;
  const env: Record<string, string> = { ...data };
  // Secret-backed entries (valueFrom) are left out: the service reads those through the AWS SDK.
  for (const entry of container.env ?? []) if (entry.value !== undefined) env[entry.name] = entry.value;
  return { container, pod, env };
}

for (const environment of ENVIRONMENTS) {
  test(`the service accepts the environment ${environment.name} renders, and it matches the pod spec`, async (t) => {
    const { container, pod, env } = podParts(await renderChart(4, environment.args));
    let config: Config;
    try {
      config = loadConfig(env);
    } catch (error) {
      return t.fail(`loadConfig rejected the chart's environment: ${String(error)}`);
    }
    const port = (name: string): number | undefined => container.ports.find((p) => p.name === name)?.containerPort;
    t.is(port('http'), config.port);
    t.is(port('management'), config.managementPort);
    t.not(config.managementPort, 0, 'the management listener is on');
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
      if (probe?.httpGet !== undefined) t.is(probe.httpGet.port, 'management');
    }
    t.is(container.volumeMounts.find((m) => m.name === 'model-cache')?.mountPath, config.model.cacheDir);
    const preStopMs = (container.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
    t.true(
      preStopMs + config.shutdown.delayMs + config.shutdown.drainTimeoutMs < pod.terminationGracePeriodSeconds * 1000,
      'the grace period covers the preStop sleep, the delay and the drain',
    );
    t.true(
      config.admission.requestTimeoutMs <= config.shutdown.drainTimeoutMs,
      'an admitted request can finish within the drain',
    );
    if (environment.name === 'staging' || environment.name === 'prod') {
      t.is(config.model.uri, 's3://models/lid/model.ftz');
      t.is(config.model.md5, PIPELINE_MD5);
    } else {
      t.is(config.model.uri, undefined, "the image's baked lock decides");
      t.is(config.model.md5, undefined);
    }
  });
}

test('every chart value reaches the service setting it names', async (t) => {
  const values: Record<string, string> = {
    'containerPorts.http': '18080',
    'containerPorts.management': '19090',
    listenBacklog: '1024',
    logLevel: 'warn',
    'model.uri': 's3://bucket/models/m.ftz',
    'model.md5': '0123456789abcdef0123456789abcdef',
    'model.name': 'spam',
    'model.load': 'lazy',
    'model.retry.baseMs': '250',
    'model.retry.maxMs': '9000',
    'model.downloadStallMs': '4000',
    's3.region': 'eu-central-1',
    's3.endpoint': 'http://minio.storage:9000',
    's3.forcePathStyle': 'true',
    's3.checksums': 'when_supported',
    'engine.poolSize': '3',
    'engine.callTimeoutMs': '2500',
    'engine.stallMs': '1500',
    'engine.restartBaseMs': '50',
    'engine.restartMaxMs': '2000',
    'limits.maxBodyBytes': '2097152',
    'limits.maxTextChars': '5000',
    'limits.maxBatch': '50',
    'limits.maxK': '7',
    'admission.maxInFlight': '9',
    'admission.maxQueue': '33',
    'admission.requestTimeoutMs': '4000',
    'admission.retryAfterSeconds': '2',
    'admission.queueDelayTargetMs': '250',
    'admission.queueDelayIntervalMs': '2000',
    'cache.maxBytes': '1048576',
    'http.bodyTimeoutMs': '3000',
    'http.maxBodyReaders': '16',
    'cache.enabled': 'false',
    'cache.maxKeys': '500',
    'cache.ttlSeconds': '60',
    'watchdog.maxEventLoopDelayMs': '750',
    'watchdog.engineStallMs': '6000',
    'shutdown.delaySeconds': '2',
    'shutdown.drainTimeoutSeconds': '8',
  };
  const args = Object.entries(values).flatMap(([key, value]) => ['--set', `${key}=${value}`]);
  const { env } = podParts(await renderChart(4, args));
  const config = loadConfig(env);
  t.like(config, {
    port: 18080,
    managementPort: 19090,
    listenBacklog: 1024,
    logLevel: 'warn',
    model: {
      uri: 's3://bucket/models/m.ftz',
      md5: '0123456789abcdef0123456789abcdef',
      name: 'spam',
      cacheDir: '/var/cache/fasttext-edge',
      load: 'lazy',
      retryBaseMs: 250,
      retryMaxMs: 9000,
      stallTimeoutMs: 4000,
    },
    s3: {
      region: 'eu-central-1',
      endpoint: 'http://minio.storage:9000',
      forcePathStyle: true,
      checksums: 'when_supported',
    },
    engine: { poolSize: 3, callTimeoutMs: 2500, stallMs: 1500, restartBaseMs: 50, restartMaxMs: 2000 },
    limits: { maxBodyBytes: 2097152, maxTextChars: 5000, maxBatch: 50, maxK: 7 },
    admission: {
      maxInFlight: 9,
      maxQueue: 33,
      requestTimeoutMs: 4000,
      retryAfterSeconds: 2,
      queueDelayTargetMs: 250,
      queueDelayIntervalMs: 2000,
    },
    cache: { enabled: false, maxKeys: 500, ttlSeconds: 60, maxBytes: 1048576 },
    http: { bodyTimeoutMs: 3000, maxBodyReaders: 16 },
    liveness: { maxEventLoopDelayMs: 750, engineStallMs: 6000 },
    shutdown: { delayMs: 2000, drainTimeoutMs: 8000 },
  });
});
