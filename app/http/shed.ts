// The overload gate in front of Koa. When admission is already full (every slot busy, the
// queue at its bound), a classification request is refused here, from the request line
// alone: before Koa, before its body is read or parsed. Under a 10x surge this is what keeps
// a refusal cheap (measured by the resilience suite: a 503 after parsing a 100-text body
// cost 270 us of main-thread CPU, enough to saturate the core and leave connections
// unanswered for seconds); the body is discarded unparsed and the connection stays usable.
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Metrics } from '../metrics.js';
import type { PreHandler } from '../server.js';
import type { Admission } from './admission.js';

/** The route label of a classification request, or undefined for anything else. */
function classifyRoute(req: http.IncomingMessage): string | undefined {
  if (req.method !== 'POST' || req.url === undefined) return undefined;
  const path = req.url.split('?', 1)[0] ?? '';
  if (path === '/v1/classify') return '/v1/classify';
  if (path.startsWith('/v2/models/') && path.endsWith('/infer')) return '/v2/models/:name/infer';
  return undefined;
}

export function overloadGate(admission: Admission, metrics: Metrics, retryAfterSeconds: number): PreHandler {
  const v1Body = JSON.stringify({ error: { code: 'overloaded', message: 'the service is at capacity; retry later' } });
  const v2Body = JSON.stringify({ error: 'overloaded: the service is at capacity; retry later' });
  const retryAfter = String(retryAfterSeconds);
  return (req, res) => {
    if (!admission.full()) return false;
    const route = classifyRoute(req);
    if (route === undefined) return false;
    const started = performance.now();
    admission.countShed();
    const body = route === '/v1/classify' ? v1Body : v2Body;
    // Discard the body without buffering it, so the keep-alive connection can carry the next request.
    req.resume();
    res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'retry-after': retryAfter });
    res.end(body);
    metrics.requests.inc({ route, method: 'POST', status: 503 });
    metrics.requestSeconds.observe({ route }, (performance.now() - started) / 1000);
    return true;
  };
}
