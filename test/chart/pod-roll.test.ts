// Kubernetes rolls a Deployment's pods when, and only when, its pod template changes. These
// renders check that a change to any service setting or to the model changes the template
// (through checksum/config and the model annotations), and that scaling does not.
import test from 'ava';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CHART, findOne, HELM_MAJORS, renderChart } from './chart-helm.js';
import type { HelmMajor } from '../../scripts/helm/helm-binary.js';

interface PodTemplate {
  metadata: { annotations: Record<string, string> };
}

async function podTemplate(major: HelmMajor, set: readonly string[], chartDir?: string): Promise<PodTemplate> {
  const manifests = await renderChart(
    major,
    set.flatMap((pair) => ['--set', pair]),
    chartDir,
  );
  return (findOne(manifests, 'Deployment') as { spec: { template: PodTemplate } }).spec.template;
}

const MODEL = ['model.uri=s3://models/lid/a.ftz', 'model.md5=0123456789abcdef0123456789abcdef'];

for (const major of HELM_MAJORS) {
  test(`helm ${major}: a service setting change rolls the pods, a replica change does not`, async (t) => {
    const base = await podTemplate(major, []);
    const checksum = base.metadata.annotations['checksum/config'];
    t.regex(checksum ?? '', /^[0-9a-f]{64}$/);

    for (const change of [
      'logLevel=debug',
      'admission.maxQueue=1',
      'shutdown.drainTimeoutSeconds=11',
      'engine.poolSize=3',
    ]) {
      const changed = await podTemplate(major, [change]);
      t.not(changed.metadata.annotations['checksum/config'], checksum, `${change} must change checksum/config`);
    }
    const scaled = await podTemplate(major, ['replicaCount=7']);
    t.deepEqual(scaled, base, 'scaling leaves the pod template as it is');
  });

  test(`helm ${major}: a chart version bump alone does not roll the pods`, async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'chart-bump-'));
    try {
      const bumped = path.join(dir, 'fasttext-edge');
      await cp(CHART, bumped, { recursive: true });
      const chartYaml = path.join(bumped, 'Chart.yaml');
      const original = await readFile(chartYaml, 'utf8');
      t.regex(original, /^version: /m);
      await writeFile(chartYaml, original.replace(/^version: .*$/m, 'version: 99.0.0'));
      const before = await podTemplate(major, []);
      const after = await podTemplate(major, [], bumped);
      t.deepEqual(after, before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test(`helm ${major}: a new model rolls the pods through its annotations`, async (t) => {
    const first = await podTemplate(major, MODEL);
    t.is(first.metadata.annotations['fasttext-edge/model-md5'], '0123456789abcdef0123456789abcdef');
    t.is(first.metadata.annotations['fasttext-edge/model-uri'], 's3://models/lid/a.ftz');
    const republished = await podTemplate(major, [...MODEL, 'model.md5=fedcba9876543210fedcba9876543210']);
    t.is(republished.metadata.annotations['fasttext-edge/model-md5'], 'fedcba9876543210fedcba9876543210');
    t.notDeepEqual(republished, first);
    const baked = await podTemplate(major, []);
    t.is(baked.metadata.annotations['fasttext-edge/model-md5'], 'image-lock');
  });
}
