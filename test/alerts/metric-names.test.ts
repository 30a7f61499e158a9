// Every metric a dashboard query or a rule expression reads must be one the service exports:
// names come from a real scrape of a real service process, queries are parsed with Prometheus'
// own grammar. A renamed metric, or a typo in a query, fails here instead of showing an empty
// panel or an alert that can never fire.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CHART } from '../chart/chart-helm.js';
import { postJson, startService } from '../helpers/service.js';
import { renderPrometheusRule, ruleGroups } from './prom-tools.js';
import { exposedFamilies, exposedName, metricNames, withoutGrafanaVariables } from './promql-names.js';

/** Kubernetes' own series the memory and restart rules read (optional: cAdvisor, kube-state-metrics). */
const CLUSTER_METRICS: ReadonlySet<string> = new Set([
  'container_memory_working_set_bytes', // cAdvisor (kubelet)
  'kube_pod_container_resource_limits', // kube-state-metrics
  'kube_pod_container_status_restarts_total', // kube-state-metrics
]);

interface Panel {
  readonly title?: string;
  readonly type: string;
  readonly targets?: readonly { readonly expr: string }[];
  readonly panels?: readonly Panel[];
}
interface Dashboard {
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly { readonly name: string; readonly definition?: string }[] };
}

const readDashboard = async (): Promise<Dashboard> =>
  JSON.parse(await readFile(path.join(CHART, 'dashboards', 'fasttext-edge.json'), 'utf8')) as Dashboard;
const flatPanels = (panels: readonly Panel[]): Panel[] => panels.flatMap((p) => [p, ...flatPanels(p.panels ?? [])]);

/** Every PromQL query of the dashboard, with where it is; label_values(expr, label) gives its expr. */
function dashboardQueries(dashboard: Dashboard): { where: string; query: string }[] {
  const queries = flatPanels(dashboard.panels).flatMap((p) =>
    (p.targets ?? []).map((x) => ({ where: `panel "${p.title ?? ''}"`, query: x.expr })),
  );
  for (const v of dashboard.templating.list) {
    const inner = /^label_values\((.+),\s*[A-Za-z_]+\)$/.exec(v.definition ?? '')?.[1];
    if (inner !== undefined) queries.push({ where: `variable $${v.name}`, query: inner });
  }
  return queries.map((q) => ({ ...q, query: withoutGrafanaVariables(q.query) }));
}

async function scrapeFamilies(t: import('ava').ExecutionContext): Promise<Map<string, string>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fte-names-'));
  const svc = await startService({ env: { MODEL_CACHE_DIR: dir, ENGINE_POOL_SIZE: '1' } });
  t.teardown(async () => {
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await svc.waitReady(30_000);
  t.is((await postJson(`${svc.url}/v1/classify`, { text: 'the weather is fine today' })).status, 200);
  const res = await fetch(`${svc.managementUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
  return exposedFamilies(await res.text());
}

test('every metric named by the dashboard and the rules is exported by a real service', async (t) => {
  const families = await scrapeFamilies(t);
  t.true(
    families.has('fasttext_ready') && families.has('fasttext_http_request_duration_seconds'),
    [...families.keys()].join(' '),
  );
  const groups = ruleGroups(await renderPrometheusRule());
  const recorded = new Set(groups.flatMap((g) => g.rules).flatMap((r) => (r.record === undefined ? [] : [r.record])));
  const sources = [
    ...dashboardQueries(await readDashboard()),
    ...groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert ?? r.record ?? '?'}`, query: r.expr }))),
  ];
  const used = new Set<string>();
  const missing: string[] = [];
  for (const { where, query } of sources) {
    for (const name of metricNames(query)) {
      used.add(name);
      const known = exposedName(name, families) !== undefined || recorded.has(name) || CLUSTER_METRICS.has(name);
      if (!known) missing.push(`${where}: ${name}`);
    }
  }
  t.deepEqual(missing, [], 'metrics no scrape exports and no rule records');
  // The exception lists stay honest: each entry is used somewhere.
  for (const name of CLUSTER_METRICS) t.true(used.has(name), `${name} is listed but no query uses it`);
});

test('the check catches a query naming a metric the service does not export', async (t) => {
  const families = await scrapeFamilies(t);
  const names = metricNames(
    withoutGrafanaVariables('sum(rate(fasttext_http_requests_totl{namespace="$namespace"}[$__rate_interval]))'),
  );
  t.deepEqual(names, ['fasttext_http_requests_totl']);
  t.is(exposedName('fasttext_http_requests_totl', families), undefined);
  t.is(
    exposedName('fasttext_http_request_duration_seconds_bucket', families),
    'fasttext_http_request_duration_seconds',
  );
  t.is(exposedName('fasttext_ready_bucket', families), undefined, 'only histograms have _bucket series');
});

test('the dashboard covers what operators read, and every query parses', async (t) => {
  const dashboard = await readDashboard();
  const queries = dashboardQueries(dashboard);
  for (const { where, query } of queries) t.notThrows(() => metricNames(query), where);
  const titles = flatPanels(dashboard.panels)
    .map((p) => p.title ?? '')
    .join(' | ')
    .toLowerCase();
  for (const topic of [
    'requests',
    'goodput vs shed',
    'latency percentiles',
    'queue',
    'ready',
    'canary',
    'engine',
    'model download',
    'memory per pod',
  ]) {
    t.true(titles.includes(topic), `no panel about ${topic}: ${titles}`);
  }
  const all = queries.map((q) => q.query).join('\n');
  for (const metric of [
    'fasttext:http_request_duration_seconds:p99',
    'fasttext:shed:rate',
    'fasttext:goodput:rate',
    'fasttext_not_ready_reason',
    'fasttext_model_download_bytes_total',
    'container_memory_working_set_bytes',
  ]) {
    t.true(all.includes(metric), `the dashboard does not read ${metric}`);
  }
});
