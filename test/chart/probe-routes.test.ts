// Differential: for probe paths in many spellings (case, repeated and trailing slashes, query
// strings, OIP aliases, paths the service does not have), the chart accepts a path for
// liveness exactly when the running service answers it with its liveness check, and for
// readiness exactly when it answers with readiness. The service is the real one (bundled
// model, 127.0.0.1); the chart is rendered by the real helm 4. Paths are sent as raw bytes
// (node:http, no URL normalisation), the way the kubelet's Go client sends them.
import test from 'ava';
import fc from 'fast-check';
import http from 'node:http';
import { freePort, startService, BUNDLED_MODEL, BUNDLED_MD5, type RunningService } from '../helpers/service.js';
import { CHART, runHelm } from './chart-helm.js';

type Route = 'liveness' | 'readiness' | 'none';

/** What the service's management listener answers on a raw path. */
function routeOnService(managementUrl: string, rawPath: string): Promise<Route> {
  const { hostname, port } = new URL(managementUrl);
  return new Promise((resolve, reject) => {
    const request = http.get({ host: hostname, port, path: rawPath, timeout: 5000 }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        let body: { status?: unknown; live?: unknown; ready?: unknown } = {};
        try {
          body = JSON.parse(text) as typeof body;
        } catch {
          // not JSON: not a health answer
        }
        // /health and /ready answer {"status"}; their OIP aliases answer the spec's {"live"} and {"ready"}.
        if (body.status === 'ok' || body.status === 'unhealthy' || typeof body.live === 'boolean') resolve('liveness');
        else if (body.status === 'ready' || body.status === 'not_ready' || typeof body.ready === 'boolean')
          resolve('readiness');
        else resolve('none');
      });
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${rawPath}: no answer in 5 s`)));
    request.on('error', reject);
  });
}

/** Whether `helm template` accepts the path for that probe. */
async function chartAccepts(key: 'livenessProbe.path' | 'readinessProbe.path', rawPath: string): Promise<boolean> {
  const run = await runHelm(4, ['template', 'x', CHART, '--set-string', `${key}=${rawPath}`]);
  if (run.code !== 0 && !/execution error/.test(run.stderr))
    throw new Error(`helm failed for another reason: ${run.stderr}`);
  return run.code === 0;
}

const BASES = [
  '/health',
  '/ready',
  '/v2/health/live',
  '/v2/health/ready',
  '/metrics',
  '/readyz',
  '/healthz',
  '/v2/health',
  '/status',
];

/** A spelling of one of BASES: random case, sometimes a slash doubled, trailing slashes, a query. */
const spelling = fc
  .record({
    base: fc.constantFrom(...BASES),
    upper: fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }),
    // Which slash to double; values past the last slash (most draws) double none.
    doubleSlash: fc.nat(11),
    trailing: fc.constantFrom('', '', '/', '//'),
    query: fc.constantFrom('', '', '?probe=1', '?'),
  })
  .map(({ base, upper, doubleSlash, trailing, query }) => {
    let path = [...base].map((c, i) => (upper[i] === true ? c.toUpperCase() : c)).join('');
    const at = [...path].flatMap((c, i) => (c === '/' ? [i] : []))[doubleSlash];
    if (at !== undefined) path = `${path.slice(0, at)}/${path.slice(at)}`;
    return `${path}${trailing}${query}`;
  });

let service: RunningService | undefined;

test.before(async () => {
  service = await startService({
    env: {
      MODEL_URI: `file://${BUNDLED_MODEL}`,
      MODEL_MD5: BUNDLED_MD5,
      MANAGEMENT_PORT: String(await freePort()),
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  });
});

test.after.always(async () => {
  await service?.stop(5000);
});

test('the chart accepts a probe path exactly when the running service answers it with that check', async (t) => {
  const running = service;
  if (running === undefined) return t.fail('the service did not start');
  const seen: string[] = [];
  await fc.assert(
    fc.asyncProperty(spelling, async (rawPath) => {
      const route = await routeOnService(running.managementUrl, rawPath);
      seen.push(`${rawPath} -> ${route}`);
      const [liveness, readiness] = [
        await chartAccepts('livenessProbe.path', rawPath),
        await chartAccepts('readinessProbe.path', rawPath),
      ];
      if (liveness !== (route === 'liveness'))
        throw new Error(
          `livenessProbe.path=${rawPath}: the service answers ${route}, the chart ${liveness ? 'accepts' : 'refuses'} it`,
        );
      if (readiness !== (route === 'readiness'))
        throw new Error(
          `readinessProbe.path=${rawPath}: the service answers ${route}, the chart ${readiness ? 'accepts' : 'refuses'} it`,
        );
    }),
    // One plain example of each answer first, then the search.
    { numRuns: 40, examples: [['/ready'], ['/health'], ['/metrics']] },
  );
  // The search reached each kind of answer, or it proved little.
  for (const kind of ['liveness', 'readiness', 'none'])
    t.true(
      seen.some((line) => line.endsWith(`-> ${kind}`)),
      `no path answered ${kind}: ${seen.join(', ')}`,
    );
});

test('known spellings: the service and the chart agree on each', async (t) => {
  const running = service;
  if (running === undefined) return t.fail('the service did not start');
  const cases: readonly [string, Route][] = [
    ['/READY', 'readiness'],
    ['/ready/', 'readiness'],
    ['/ready?x=1', 'readiness'],
    ['/V2/Health/Ready/', 'readiness'],
    ['//ready', 'none'],
    ['/ready//', 'none'],
    ['/Health/', 'liveness'],
    ['/v2/health/live?probe=1', 'liveness'],
    ['//health', 'none'],
  ];
  for (const [rawPath, expected] of cases) {
    t.is(await routeOnService(running.managementUrl, rawPath), expected, `service on ${rawPath}`);
    t.is(await chartAccepts('livenessProbe.path', rawPath), expected === 'liveness', `chart, liveness on ${rawPath}`);
  }
});
