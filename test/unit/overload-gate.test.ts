// The overload gate on a real node:http server: refuses classification requests from the
// request line alone while admission is full, and lets everything else through.
import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Admission, type Release } from '../../app/http/admission.js';
import { overloadGate } from '../../app/http/shed.js';
import { createMetrics } from '../../app/metrics.js';

test('while admission is full: 503 overloaded + Retry-After without reading the body; probes and other routes pass', async (t) => {
  const admission = new Admission({ maxInFlight: 1, maxQueue: 0, retryAfterSeconds: 7 }, { onShed: () => {}, onChange: () => {} });
  const metrics = createMetrics();
  const gate = overloadGate(admission, metrics, 7);
  const server = http.createServer((req, res) => {
    if (gate(req, res)) return;
    res.end(`passed ${req.method} ${req.url}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = (path: string, body: string) => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(5000) });

  t.is(await (await post('/v1/classify', '{not json')).text(), 'passed POST /v1/classify', 'not full: through to the app');

  const slot = admission.acquire(performance.now() + 10_000) as Release;
  const shed = await post('/v1/classify', '{not json at all');
  t.is(shed.status, 503);
  t.is(shed.headers.get('retry-after'), '7');
  t.deepEqual(await shed.json(), { error: { code: 'overloaded', message: 'the service is at capacity; retry later' } });
  const oip = await post('/v2/models/m/infer', '{}');
  t.is(oip.status, 503);
  t.regex(((await oip.json()) as { error: string }).error, /^overloaded/);
  t.is(await (await fetch(`${base}/health`)).text(), 'passed GET /health', 'probes are never shed');
  t.is(await (await post('/v1/other', '{}')).text(), 'passed POST /v1/other');
  const metricsText = await metrics.registry.metrics();
  t.regex(metricsText, /fasttext_http_requests_total\{route="\/v1\/classify",method="POST",status="503"\} 1/);

  slot();
  t.is((await post('/v1/classify', '{}')).status, 200, 'capacity back: through again');
});

test('a held refusal arrives after the hold, still 503 overloaded; the hold is bounded', async (t) => {
  const admission = new Admission({ maxInFlight: 1, maxQueue: 0, retryAfterSeconds: 1 }, { onShed: () => {}, onChange: () => {} });
  const gate = overloadGate(admission, createMetrics(), 1, 300);
  const server = http.createServer((req, res) => {
    if (gate(req, res)) return;
    res.end('passed');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/classify`;
  const slot = admission.acquire(performance.now() + 10_000) as Release;
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: 20 }, () => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(5000) })),
  );
  const elapsed = performance.now() - started;
  t.true(answers.every((a) => a.status === 503));
  t.true(elapsed >= 280, `held ${Math.round(elapsed)} ms`);
  t.true(elapsed < 2000, `but not long: ${Math.round(elapsed)} ms`);
  slot();
});
