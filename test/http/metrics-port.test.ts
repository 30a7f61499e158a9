// Where /metrics is served, over real HTTP: with a management listener (MANAGEMENT_PORT) it is
// there only, so an Ingress or HTTPRoute that forwards every path of the traffic port never
// publishes it; the probes stay on both ports (Knative probes the serving port). Without a
// management listener the traffic port serves it, as the only place there is.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, getJson, startService, type RunningService } from '../helpers/service.js';

// Spellings the router treats as /metrics (it matches case-insensitively, with one trailing
// slash and any query), so none of them may slip past on the traffic port.
const METRICS_SPELLINGS = [
  '/metrics',
  '/metrics/',
  '/METRICS',
  '/Metrics?x=1',
  '/metrics?name[]=fasttext_http_requests_total',
];
const PROBES = ['/health', '/ready', '/v2/health/live', '/v2/health/ready'];

async function started(t: import('ava').ExecutionContext, env: Record<string, string>): Promise<RunningService> {
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'fte-metrics-port-'));
  const svc = await startService({ env: { MODEL_CACHE_DIR: cacheDir, ...env } });
  t.teardown(async () => {
    await svc.stop();
    rmSync(cacheDir, { recursive: true, force: true });
  });
  await svc.waitReady(20_000);
  return svc;
}

test('with MANAGEMENT_PORT set, /metrics is a 404 JSON error on the traffic port and served on the management port; probes answer on both', async (t) => {
  const svc = await started(t, { MANAGEMENT_PORT: String(await freePort()) });
  t.not(svc.managementUrl, svc.url);
  for (const spelling of METRICS_SPELLINGS) {
    const traffic = await getJson(`${svc.url}${spelling}`);
    t.is(traffic.status, 404, `traffic ${spelling}`);
    t.regex(traffic.headers.get('content-type') ?? '', /^application\/json/, `traffic ${spelling}`);
    t.is((traffic.body as { error?: { code?: string } }).error?.code, 'not_found', `traffic ${spelling}`);
    const management = await fetch(`${svc.managementUrl}${spelling}`);
    t.is(management.status, 200, `management ${spelling}`);
    t.regex(await management.text(), /^# HELP fasttext_/m, `management ${spelling}`);
  }
  for (const probe of PROBES) {
    t.is((await getJson(`${svc.url}${probe}`)).status, 200, `traffic ${probe}`);
    t.is((await getJson(`${svc.managementUrl}${probe}`)).status, 200, `management ${probe}`);
  }
});

test('without a management listener (MANAGEMENT_PORT=0), the traffic port serves /metrics', async (t) => {
  const svc = await started(t, { MANAGEMENT_PORT: '0' });
  t.is(svc.managementUrl, svc.url);
  const res = await fetch(`${svc.url}/metrics`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/plain/);
  t.regex(await res.text(), /^fasttext_lifecycle_state\{state="ready"\} 1$/m);
});
