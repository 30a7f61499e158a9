// The OIP health probes, with the spec's bodies: `{"live": bool}` and `{"ready": bool}`. They
// answer from the same state as /health and /ready (same status codes: 200 or 503); a 503 also
// carries `error`, the string every /v2 error has, saying why.
import Router from '@koa/router';
import type { Lifecycle } from '../../lifecycle.js';

export function oipHealthRouter(lifecycle: Lifecycle): Router {
  const router = new Router();

  router.get('/v2/health/live', (ctx) => {
    const report = lifecycle.liveness();
    ctx.status = report.live ? 200 : 503;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = report.live
      ? { live: true }
      : { live: false, error: `not_live: ${report.reason ?? 'the process is not making progress'}` };
  });

  router.get('/v2/health/ready', (ctx) => {
    const readiness = lifecycle.readiness();
    ctx.status = readiness.ready ? 200 : 503;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = readiness.ready
      ? { ready: true }
      : { ready: false, error: `not_ready: ${readiness.reason ?? readiness.state}` };
  });

  return router;
}
