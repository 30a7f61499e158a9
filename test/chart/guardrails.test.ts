// What a pipeline sees: `helm template x chart -f chart/values-prod.yaml --set model.md5=...
// --set model.uri=s3://b/k` renders, and the same with any one guardrail violated fails with
// that guardrail's message, under helm 3 and helm 4.
import test from 'ava';
import path from 'node:path';
import { CHART, HELM_MAJORS, runHelm } from './chart-helm.js';

const PROD = [
  '-f',
  path.join(CHART, 'values-prod.yaml'),
  '--set',
  'model.md5=0123456789abcdef0123456789abcdef',
  '--set',
  'model.uri=s3://b/k',
];

interface Violation {
  readonly rule: string;
  readonly set: readonly string[];
  readonly message: string;
}

// Prod: liveness 0/10/3 s, readiness 0/5/2 s, startup 0/10/2 s; preStop 10 + delay 0 + drain 15,
// grace 45; minReadySeconds 15; HPA on.
const VIOLATIONS: readonly Violation[] = [
  {
    rule: 'readiness starts before liveness with the startup probe off',
    set: ['startupProbe.enabled=false', 'livenessProbe.initialDelaySeconds=10'],
    message:
      'readinessProbe.initialDelaySeconds (0) is less than livenessProbe.initialDelaySeconds (10) while startupProbe is off: readiness must not start before liveness is established. Set readinessProbe.initialDelaySeconds to at least 10, or enable startupProbe.',
  },
  {
    rule: 'maxSurge and maxUnavailable both 0',
    set: ['updateStrategy.rollingUpdate.maxSurge=0'],
    message:
      'updateStrategy.rollingUpdate.maxSurge and updateStrategy.rollingUpdate.maxUnavailable are both 0: the rollout could never replace a pod (Kubernetes rejects it). Set maxSurge to at least 1 to keep full capacity during rollouts, or maxUnavailable to at least 1.',
  },
  {
    rule: 'a probe timeout not below its period',
    set: ['livenessProbe.timeoutSeconds=10'],
    message:
      'livenessProbe.timeoutSeconds (10) must be less than livenessProbe.periodSeconds (10): a probe that may outlast its period piles up behind a slow process. Lower livenessProbe.timeoutSeconds or raise livenessProbe.periodSeconds.',
  },
  {
    rule: 'a startup successThreshold other than 1',
    set: ['startupProbe.successThreshold=2'],
    message:
      'startupProbe.successThreshold is 2 but must be 1 for liveness and startup probes (Kubernetes rejects any other value). Set startupProbe.successThreshold to 1.',
  },
  {
    rule: 'a liveness successThreshold other than 1',
    set: ['livenessProbe.successThreshold=3'],
    message:
      'livenessProbe.successThreshold is 3 but must be 1 for liveness and startup probes (Kubernetes rejects any other value). Set livenessProbe.successThreshold to 1.',
  },
  {
    rule: 'a grace period that does not cover preStop sleep + delay + drain',
    set: ['terminationGracePeriodSeconds=25'],
    message:
      'terminationGracePeriodSeconds (25) must be greater than lifecycle.preStopSleepSeconds (10) + shutdown.delaySeconds (0) + shutdown.drainTimeoutSeconds (15) = 25, or the kubelet kills the pod mid-drain. Set terminationGracePeriodSeconds to 30 or more (a few seconds for the engine to stop), or shorten the sleep or the drain.',
  },
  {
    rule: 'progressDeadlineSeconds not above minReadySeconds',
    set: ['progressDeadlineSeconds=15'],
    message:
      'progressDeadlineSeconds (15) must be greater than minReadySeconds (15) (Kubernetes rejects it otherwise). Raise progressDeadlineSeconds so it also covers the model download, or lower minReadySeconds.',
  },
  {
    rule: 'liveness on the readiness path',
    set: ['livenessProbe.path=/ready'],
    message:
      'livenessProbe.path is /ready, which the service answers as readiness (/ready): liveness must not depend on the model or on S3, or a slow download restarts healthy pods. Set livenessProbe.path=/health (or /v2/health/live).',
  },
  {
    rule: 'liveness on readiness in another spelling',
    set: ['livenessProbe.path=/V2/Health/Ready/?probe=1'],
    message:
      'livenessProbe.path is /V2/Health/Ready/?probe=1, which the service answers as readiness (/ready): liveness must not depend on the model or on S3, or a slow download restarts healthy pods. Set livenessProbe.path=/health (or /v2/health/live).',
  },
  {
    rule: 'readiness on the liveness path',
    set: ['readinessProbe.path=/health'],
    message:
      'readinessProbe.path is /health, which the service answers as liveness (/health): readiness on it sends traffic to pods whose model is not loaded yet. Set readinessProbe.path=/ready (or /v2/health/ready).',
  },
  {
    rule: 'a PDB that blocks every drain against the HPA minimum',
    set: ['autoscaling.minReplicas=1', 'pdb.minAvailable=1', 'pdb.maxUnavailable='],
    message:
      'pdb.minAvailable (1) keeps 1 of autoscaling.minReplicas (1) pods: no pod may ever be evicted, so every node drain blocks. Set pdb.minAvailable="" and pdb.maxUnavailable=1, or raise autoscaling.minReplicas to 2 or more.',
  },
  {
    rule: 'a memory limit below the model copies',
    set: ['model.bytes=5368709120'],
    message:
      'resources.limits.memory (13Gi = 13312Mi) is below what the engine can hold: (engine.poolSize 2 + engine.widePoolSize 1 x 1 k>1 tiers from engine.kTiers "none" and limits.maxK 100) = 3 model copies x (model.bytes 5368709120 + 16Mi per child) + 256Mi for the Node process (memorySizing.*) + 64Mi of cached predictions (2 x cache.maxBytes) + 192Mi of request bodies ((http.maxBodyReaders 128 + 64 queued) x limits.maxBodyBytes) = 15920Mi, so the pod is OOM-killed once the engine starts its k>1 tiers (right after it turns ready with engine.warmTiers, else at the first k>1 request). Set resources.limits.memory to at least 15920Mi, or lower the copies (engine.kTiers=none, engine.widePoolSize, engine.poolSize).',
  },
  {
    rule: 'a PDB over one replica without an HPA',
    set: ['autoscaling.enabled=false', 'replicaCount=1'],
    message:
      'pdb.create is true with replicaCount 1 and autoscaling.enabled false: a PodDisruptionBudget over one pod either blocks every node drain or protects nothing. Set replicaCount to 2 or more, enable autoscaling, or set pdb.create=false.',
  },
  {
    rule: 'a model uri without its md5',
    set: ['model.md5='],
    message:
      "model.uri is set (s3://b/k) but model.md5 is empty: the service only loads a file whose MD5 was fixed when the model was published. Pass --set-string model.md5=<32 hex> with the uri, or leave model.uri empty to serve the image's baked model.",
  },
  {
    rule: 'an admission interval set shorter than the target (the service would exit 2 on it)',
    set: ['admission.queueDelayTargetMs=2000', 'admission.queueDelayIntervalMs=1000'],
    message:
      'admission.queueDelayIntervalMs (1000) is shorter than admission.queueDelayTargetMs (2000): every request admitted to wait up to the target would be refused 503 before that wait ends (the service refuses this setting at start). Set admission.queueDelayIntervalMs to at least the target, or to 0 (derived: twice the target, or half the request timeout when that is shorter), or lower the target.',
  },
  {
    rule: 'an admission interval set as long as the request timeout (queued requests would get 504 at the deadline, not a prompt 503)',
    set: ['admission.queueDelayIntervalMs=1000', 'admission.requestTimeoutMs=1000'],
    message:
      'admission.queueDelayIntervalMs (1000) is not shorter than admission.requestTimeoutMs (1000): a queued request would reach its deadline (504) before the interval refuses it with a prompt 503 (the service refuses this setting at start). Lower admission.queueDelayIntervalMs (0 derives one that fits) or raise admission.requestTimeoutMs.',
  },
  {
    rule: 'a byte bound on work below one full body (the service would exit 2 on it)',
    set: ['admission.maxInFlightBytes=8'],
    message:
      "admission.maxInFlightBytes (8) is less than one full body, limits.maxBodyBytes (1048576): every request that large would run alone, and a value meant in MiB would run every request alone (the service refuses this setting at start). Set admission.maxInFlightBytes in bytes, to at least 1048576; the service's own default is 8 x limits.maxBodyBytes (8388608).",
  },
  {
    rule: 'an admission target as long as the request timeout (admitted requests would get 504 before their turn)',
    set: ['admission.queueDelayTargetMs=10000'],
    message:
      'admission.queueDelayTargetMs (10000) is not shorter than admission.requestTimeoutMs (10000): a request admitted to wait that long would reach its deadline (504) before its turn (the service refuses this setting at start). Lower the target, or raise admission.requestTimeoutMs above it (to 20001 or more for the derived interval of twice the target).',
  },
];

const setArgs = (pairs: readonly string[]): string[] => pairs.flatMap((pair) => ['--set', pair]);

for (const major of HELM_MAJORS) {
  test(`helm ${major}: the prod overlay with the pipeline's model renders`, async (t) => {
    const run = await runHelm(major, ['template', 'x', CHART, ...PROD]);
    t.is(run.code, 0, run.stderr);
    t.regex(run.stdout, /kind: Deployment/);
    t.regex(run.stdout, /value: "s3:\/\/b\/k"/);
  });

  for (const violation of VIOLATIONS) {
    test(`helm ${major}: prod refuses ${violation.rule}`, async (t) => {
      const run = await runHelm(major, ['template', 'x', CHART, ...PROD, ...setArgs(violation.set)]);
      t.not(run.code, 0);
      t.is(run.stdout, '');
      t.true(
        run.stderr.includes(`execution error at (fasttext-edge/templates/deployment.yaml:1:4): ${violation.message}\n`),
        `stderr: ${run.stderr}`,
      );
    });
  }

  test(`helm ${major}: prod refuses a malformed md5 and an unknown key through the schema`, async (t) => {
    const badMd5 = await runHelm(major, ['template', 'x', CHART, ...PROD, '--set', 'model.md5=ABC']);
    t.not(badMd5.code, 0);
    t.regex(badMd5.stderr, /model[./]md5/);
    const typo = await runHelm(major, ['template', 'x', CHART, ...PROD, '--set', 'livenessProbe.failureTreshold=5']);
    t.not(typo.code, 0);
    t.regex(typo.stderr, /failureTreshold/);
  });

  test(`helm ${major}: the schema refuses malformed contract values (a canary without a score, a sha256 of the wrong length, canary.intervalMs 0)`, async (t) => {
    for (const [bad, named] of [
      [['--set', 'model.canaries[0].text=hi', '--set', 'model.canaries[0].label=fr'], /canaries/],
      [['--set-string', 'model.sha256=abc'], /sha256/],
      [['--set', 'canary.intervalMs=0'], /intervalMs/],
      [['--set', 'podAntiAffinityPreset=always'], /podAntiAffinityPreset/],
      [['--set', 'ingress.pathType=Regex'], /pathType/],
      // Whitespace the service would trim (JavaScript's trim(), wider than helm's \s): the pods would fetch another key.
      ...['\u00a0', '\v', '\ufeff', '\u2028', '\u3000', ' '].map(
        (ws) =>
          [
            ['--set-string', `model.uri=s3://b/k${ws}`, '--set-string', 'model.md5=' + '0'.repeat(32)],
            /model[./]uri/,
          ] as const,
      ),
    ] as const) {
      const run = await runHelm(major, ['template', 'x', CHART, ...PROD, ...bad]);
      t.not(run.code, 0, bad.join(' '));
      t.regex(run.stderr, named);
    }
  });
}
