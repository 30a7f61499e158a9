// GET /metrics (Prometheus text) and the middleware that counts and times every request.
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { performance } from 'node:perf_hooks';
import type { Metrics } from '../metrics.js';

export function metricsRouter(metrics: Metrics): Router {
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    ctx.set('Content-Type', metrics.registry.contentType);
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}

/** Starts the request clock (the deadline counts from here) and records route, status, latency. */
export function requestMetrics(metrics: Metrics, isDraining: () => boolean) {
  return async function measure(ctx: Context, next: Next): Promise<void> {
    const startedAt = performance.now();
    (ctx.state as { startedAt: number }).startedAt = startedAt;
    try {
      await next();
    } finally {
      // Closing keep-alive connections while draining moves clients to other endpoints.
      if (isDraining()) ctx.set('Connection', 'close');
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      metrics.requests.inc({ route, method: ctx.method, status: ctx.status });
      metrics.requestSeconds.observe({ route }, (performance.now() - startedAt) / 1000);
    }
  };
}
