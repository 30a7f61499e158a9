// The dashboard ConfigMap as Kubernetes and the Grafana sidecar see it: a valid ConfigMap,
// labelled grafana_dashboard "1", carrying chart/dashboards/fasttext-edge.json unchanged.
import test from 'ava';
import { ConfigMap } from 'kubernetes-models/v1';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CHART, HELM_MAJORS, findOne, renderChart } from '../chart/chart-helm.js';

for (const major of HELM_MAJORS) {
  test(`helm ${major}: the dashboard ConfigMap is valid and holds the dashboard JSON as committed`, async (t) => {
    const manifests = await renderChart(major, [
      '--set',
      'metrics.dashboard.enabled=true',
      '--set',
      'commonAnnotations.owner=ml-platform',
    ]);
    const doc = findOne(manifests, 'ConfigMap', 'edge-fasttext-edge-dashboard');
    t.notThrows(() => new ConfigMap(doc).validate());
    const metadata = doc.metadata as { labels: Record<string, string>; annotations: Record<string, string> };
    t.is(metadata.labels.grafana_dashboard, '1');
    t.is(metadata.annotations.owner, 'ml-platform');
    const committed = await readFile(path.join(CHART, 'dashboards', 'fasttext-edge.json'), 'utf8');
    const shipped = (doc.data as Record<string, string>)['fasttext-edge.json'] ?? '';
    t.deepEqual(JSON.parse(shipped), JSON.parse(committed));
  });
}
