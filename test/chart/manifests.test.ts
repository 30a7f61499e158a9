// For each environment (default, dev, staging, prod) and each helm major (3, 4):
// `helm lint --strict` passes, and every document `helm template` renders validates against
// the Kubernetes schemas of kubernetes-models (the ServiceMonitor against the Prometheus
// Operator's, from @kubernetes-models/prometheus-operator; the HTTPRoute against Gateway API's,
// from @kubernetes-models/gateway-api; the Knative Service against Knative Serving's, from
// @kubernetes-models/knative).
import test from 'ava';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';
import { Service as KnativeService } from '@kubernetes-models/knative/serving.knative.dev/v1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Pod, Service, ServiceAccount } from 'kubernetes-models/v1';
import {
  CHART,
  ENVIRONMENTS,
  HELM_MAJORS,
  PIPELINE_SET,
  renderChart,
  runHelm,
  type Environment,
  type Manifest,
} from './chart-helm.js';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

const MODELS: Readonly<Record<string, ModelClass>> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Pod': Pod,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'networking.k8s.io/v1/Ingress': Ingress,
  'gateway.networking.k8s.io/v1/HTTPRoute': HTTPRoute,
  'serving.knative.dev/v1/Service': KnativeService,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

/** Every problem kubernetes-models finds, as "<file> <kind>: <error>"; empty when all are valid. */
function validationErrors(manifests: readonly Manifest[]): string[] {
  const errors: string[] = [];
  for (const { source, doc } of manifests) {
    const key = `${String(doc.apiVersion)}/${String(doc.kind)}`;
    const Model = MODELS[key];
    if (Model === undefined) {
      errors.push(`${source}: no schema for ${key}`);
      continue;
    }
    try {
      new Model(doc as never).validate();
    } catch (error) {
      errors.push(`${source} ${key}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return errors;
}

// The clusters these environments run on serve the Prometheus Operator's API.
const API_VERSIONS = ['--api-versions', 'monitoring.coreos.com/v1'];

/** What each environment must render, so a validation pass over too few documents fails. */
const EXPECTED_KINDS: Readonly<Record<Environment['name'], readonly string[]>> = {
  default: ['ConfigMap', 'Deployment', 'Pod', 'PodDisruptionBudget', 'Service', 'ServiceAccount'],
  dev: ['ConfigMap', 'Deployment', 'Pod', 'Service', 'ServiceAccount'],
  staging: ['ConfigMap', 'Deployment', 'Pod', 'PodDisruptionBudget', 'Service', 'ServiceAccount', 'ServiceMonitor'],
  prod: [
    'ConfigMap',
    'Deployment',
    'HorizontalPodAutoscaler',
    'Pod',
    'PodDisruptionBudget',
    'Service',
    'ServiceAccount',
    'ServiceMonitor',
  ],
};

for (const major of HELM_MAJORS) {
  for (const environment of ENVIRONMENTS) {
    test(`helm ${major} lint --strict passes for ${environment.name}`, async (t) => {
      const run = await runHelm(major, ['lint', '--strict', CHART, ...environment.args]);
      t.is(run.code, 0, `${run.stdout}${run.stderr}`);
      t.regex(run.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });

    test(`helm ${major}: every document ${environment.name} renders is valid Kubernetes`, async (t) => {
      const manifests = await renderChart(major, [...environment.args, ...API_VERSIONS]);
      t.deepEqual([...new Set(manifests.map((m) => String(m.doc.kind)))].sort(), EXPECTED_KINDS[environment.name]);
      t.deepEqual(validationErrors(manifests), []);
    });
  }

  test(`helm ${major}: every optional object, custom probes and Secret keys render valid Kubernetes`, async (t) => {
    const manifests = await renderChart(major, [
      ...PIPELINE_SET,
      ...API_VERSIONS,
      '--set',
      'networkPolicy.enabled=true',
      '--set',
      'networkPolicy.allowExternal=false',
      '--set',
      'networkPolicy.allowExternalEgress=false',
      // Without an egress rule to the store an s3:// model is refused (it could never download).
      '--set',
      'networkPolicy.extraEgress[0].to[0].ipBlock.cidr=52.216.0.0/15',
      '--set',
      'networkPolicy.extraEgress[0].ports[0].port=443',
      '--set',
      'autoscaling.enabled=true',
      '--set',
      'metrics.serviceMonitor.enabled=true',
      '--set',
      'metrics.serviceMonitor.scrapeTimeout=10s',
      '--set',
      's3.existingSecret=s3-keys',
      '--set',
      's3.existingSecretKeys.sessionToken=token',
      '--set',
      'customStartupProbe.tcpSocket.port=management',
      '--set',
      'customStartupProbe.failureThreshold=90',
      '--set',
      'customReadinessProbe.httpGet.path=/v2/health/ready',
      '--set',
      'customReadinessProbe.httpGet.port=management',
      '--set',
      'model.cache.medium=Memory',
      '--set',
      'commonAnnotations.owner=ml-platform',
    ]);
    t.deepEqual([...new Set(manifests.map((m) => String(m.doc.kind)))].sort(), [
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'NetworkPolicy',
      'Pod',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
      'ServiceMonitor',
    ]);
    t.deepEqual(validationErrors(manifests), []);
  });

  test(`helm ${major}: the Ingress, the HTTPRoute and the extension points render valid objects`, async (t) => {
    const manifests = await renderChart(major, [
      ...PIPELINE_SET,
      ...API_VERSIONS,
      '--set',
      'metrics.serviceMonitor.enabled=true',
      '--set',
      'metrics.serviceMonitor.relabelings[0].targetLabel=node',
      '--set',
      'metrics.serviceMonitor.relabelings[0].sourceLabels[0]=__meta_kubernetes_pod_node_name',
      '--set',
      'ingress.enabled=true',
      '--set',
      'ingress.ingressClassName=nginx',
      '--set',
      'ingress.tls=true',
      '--set',
      'ingress.extraHosts[0].name=oip.example.com',
      '--set',
      'ingress.extraHosts[0].path=/v2',
      '--set',
      'ingress.extraTls[0].hosts[0]=oip.example.com',
      '--set',
      'ingress.extraTls[0].secretName=oip-tls',
      '--set',
      'httpRoute.enabled=true',
      '--set',
      'httpRoute.parentRefs[0].name=public',
      '--set',
      'httpRoute.parentRefs[0].namespace=gateway-system',
      '--set',
      'httpRoute.hostnames[0]=classify.example.com',
      '--set',
      'httpRoute.rules[0].matches[0].path.type=PathPrefix',
      '--set',
      'httpRoute.rules[0].matches[0].path.value=/v1',
      '--set',
      'extraVolumes[0].name=private-ca',
      '--set',
      'extraVolumes[0].configMap.name=private-ca',
      '--set',
      'extraVolumeMounts[0].name=private-ca',
      '--set',
      'extraVolumeMounts[0].mountPath=/etc/ssl/private-ca',
      '--set',
      'extraEnvFrom[0].secretRef.name=s3-endpoint',
      '--set',
      'initContainers[0].name=init',
      '--set',
      'initContainers[0].image=busybox:1.36',
      '--set',
      'sidecars[0].name=shipper',
      '--set',
      'sidecars[0].image=fluent-bit:3',
      '--set',
      'podAntiAffinityPreset=hard',
      '--set',
      'topologySpreadConstraints[0].maxSkew=1',
      '--set',
      'topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone',
      '--set',
      'topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway',
    ]);
    const kinds = manifests.map((m) => `${String(m.doc.apiVersion)}/${String(m.doc.kind)}`);
    t.true(kinds.includes('networking.k8s.io/v1/Ingress'));
    t.true(kinds.includes('gateway.networking.k8s.io/v1/HTTPRoute'));
    t.deepEqual(validationErrors(manifests), []);
  });

  for (const environment of ENVIRONMENTS) {
    test(`helm ${major}: ${environment.name} with knative.enabled renders a valid Knative Service and no Deployment`, async (t) => {
      const manifests = await renderChart(major, [
        ...environment.args,
        ...API_VERSIONS,
        '--set',
        'knative.enabled=true',
      ]);
      const kinds = manifests.map((m) => `${String(m.doc.apiVersion)}/${String(m.doc.kind)}`);
      t.true(kinds.includes('serving.knative.dev/v1/Service'));
      t.false(kinds.some((k) => /Deployment|HorizontalPodAutoscaler|PodDisruptionBudget/.test(k)));
      // Only the management Service stays among the plain Services.
      t.is(kinds.filter((k) => k === 'v1/Service').length, 1);
      t.deepEqual(validationErrors(manifests), []);
    });
  }
}

test('the Knative and Gateway API validators reject what their CRDs reject (they are not no-ops)', async (t) => {
  const manifests = await renderChart(4, ['--set', 'knative.enabled=true', '--set', 'httpRoute.enabled=false']);
  const knative = manifests.find((m) => m.doc.apiVersion === 'serving.knative.dev/v1');
  if (knative === undefined) return t.fail('no Knative Service rendered');
  const broken = structuredClone(knative.doc) as { spec: { template: { spec: { containerConcurrency: unknown } } } };
  broken.spec.template.spec.containerConcurrency = 'many';
  t.is(validationErrors([{ source: knative.source, doc: broken }]).length, 1);
  const route = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'r' },
    spec: { parentRefs: [{ name: 7 }] },
  };
  t.is(validationErrors([{ source: 'route', doc: route }]).length, 1);
});

test('the validator rejects a document Kubernetes would reject (it is not a no-op)', async (t) => {
  const manifests = await renderChart(4, []);
  const deployment = manifests.find((m) => m.doc.kind === 'Deployment');
  if (deployment === undefined) return t.fail('no Deployment rendered');
  const broken = structuredClone(deployment.doc) as {
    spec: { template: { spec: { containers: { ports: { containerPort: unknown }[] }[] } } };
  };
  const port = broken.spec.template.spec.containers[0]?.ports[0];
  if (port === undefined) return t.fail('no container port rendered');
  port.containerPort = 'eighty';
  const errors = validationErrors([{ source: deployment.source, doc: broken }]);
  t.is(errors.length, 1);
  t.regex(errors[0] ?? '', /containerPort/);
});
