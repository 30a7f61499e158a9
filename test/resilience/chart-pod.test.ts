// The pod the harness runs is the one the chart renders: environment from the ConfigMap and
// the env entries (Secret references resolved), probes on the named management port, preStop,
// grace period and rollout settings, with Kubernetes' rounding of rolling-update percentages.
import test from 'ava';
import { localEnv, renderPodTemplate, resolveRollingUpdate } from './harness/chart-pod.js';
import { MODEL_MD5, MODEL_URI, renderFor } from './harness/fixture.js';

test('prod: env from the ConfigMap and the Secret, probes, preStop, grace, HPA replicas, rollout', async (t) => {
  const pod = await renderFor('prod', 'http://127.0.0.1:9');
  t.is(pod.env.MODEL_URI, MODEL_URI);
  t.is(pod.env.MODEL_MD5, MODEL_MD5);
  t.is(pod.env.S3_ENDPOINT, 'http://127.0.0.1:9');
  t.is(pod.env.AWS_ACCESS_KEY_ID, 'S3RVER', 'from the Secret named by s3.existingSecret');
  t.is(pod.env.MANAGEMENT_PORT, '9090', 'from the ConfigMap (envFrom)');
  t.is(pod.env.SHUTDOWN_DRAIN_TIMEOUT_MS, '15000');
  t.deepEqual(pod.ports, [
    { name: 'http', containerPort: 8080 },
    { name: 'management', containerPort: 9090 },
  ]);
  t.deepEqual(pod.probes.liveness, {
    action: { type: 'httpGet', path: '/health', port: 'management' },
    initialDelaySeconds: 0,
    periodSeconds: 10,
    timeoutSeconds: 3,
    successThreshold: 1,
    failureThreshold: 3,
  });
  t.is(pod.probes.startup?.failureThreshold, 60);
  t.is(pod.probes.readiness?.action.type === 'httpGet' ? pod.probes.readiness.action.path : '', '/ready');
  t.is(pod.preStopSleepSeconds, 10);
  t.is(pod.terminationGracePeriodSeconds, 45);
  t.is(pod.replicas, 3, 'spec.replicas is left to the HPA: its minReplicas');
  t.deepEqual(pod.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
  t.is(pod.minReadySeconds, 15);
});

test('dev: no startup probe, no preStop hook, one replica', async (t) => {
  const pod = await renderFor('dev', 'http://127.0.0.1:9');
  t.is(pod.probes.startup, undefined);
  t.is(pod.preStopSleepSeconds, 0);
  t.is(pod.replicas, 1);
  t.is(pod.probes.liveness?.initialDelaySeconds, 3);
});

test('a Secret the chart references must be supplied', async (t) => {
  await t.throwsAsync(renderPodTemplate({ overlay: 'default', args: ['--set', 's3.existingSecret=missing'] }), {
    message: /Secret missing is referenced/,
  });
});

test('local remaps: loopback, free ports, the emptyDir as a temp dir, each stated', async (t) => {
  const pod = await renderFor('prod', 'http://127.0.0.1:9');
  const local = localEnv(pod, { cacheDir: '/tmp/x' });
  t.is(local.env.HOST, '127.0.0.1');
  t.is(local.env.PORT, '0');
  t.is(local.env.MODEL_CACHE_DIR, '/tmp/x');
  t.is(local.remaps.length, 4);
  t.true(local.remaps.some((r) => r.startsWith('MODEL_CACHE_DIR: "/var/cache/fasttext-edge" -> "/tmp/x"')));
});

test('rolling-update percentages round as Kubernetes rounds them', (t) => {
  t.deepEqual(resolveRollingUpdate({ maxSurge: '25%', maxUnavailable: '25%' }, 3), { maxSurge: 1, maxUnavailable: 0 });
  t.deepEqual(resolveRollingUpdate({ maxSurge: '25%', maxUnavailable: '25%' }, 10), { maxSurge: 3, maxUnavailable: 2 });
  t.deepEqual(resolveRollingUpdate({ maxSurge: 0, maxUnavailable: '10%' }, 3), { maxSurge: 0, maxUnavailable: 1 });
  t.deepEqual(resolveRollingUpdate({ maxSurge: 1, maxUnavailable: 0 }, 3), { maxSurge: 1, maxUnavailable: 0 });
});
