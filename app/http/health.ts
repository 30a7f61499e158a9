// Probes. Liveness: can this process still make progress (watchdog, nothing external).
// Readiness: cached state only (model verified and loaded, engine answering, not draining).
// Both bypass admission control: they are never queued behind or shed with classifications.
// The OIP probes (/v2/health/*) answer from the same state with the spec's bodies: oip/health.ts.
import Router from '@koa/router';
import type { Lifecycle } from '../lifecycle.js';
import type { Metrics } from '../metrics.js';
import type { HttpContext, RequestState } from './state.js';

export function healthRouter(lifecycle: Lifecycle, metrics: Metrics): Router<RequestState> {
  const router = new Router<RequestState>();

  function live(ctx: HttpContext): void {
    const report = lifecycle.liveness();
    ctx.status = report.live ? 200 : 503;
    if (!report.live) metrics.livenessFailures.inc({ reason: report.reason ?? 'unknown' });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = report.live
      ? { status: 'ok', state: lifecycle.state, eventLoopDelayMs: Math.round(report.eventLoopDelayMs) }
      : {
          status: 'unhealthy',
          reason: report.reason,
          state: lifecycle.state,
          eventLoopDelayMs: Math.round(report.eventLoopDelayMs),
          engineIdleMs: Math.round(report.engineIdleMs),
        };
  }

  function ready(ctx: HttpContext): void {
    const readiness = lifecycle.readiness();
    ctx.status = readiness.ready ? 200 : 503;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = readiness.ready
      ? { status: 'ready', state: readiness.state }
      : {
          status: 'not_ready',
          state: readiness.state,
          reason: readiness.reason,
          ...(readiness.detail ? { detail: readiness.detail } : {}),
        };
  }

  router.get('/health', live);
  router.get('/ready', ready);
  return router;
}
