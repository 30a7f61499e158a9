// GET /metrics (Prometheus text) and the middleware that counts and times every request.
import Router from '@koa/router';
import type { Next } from 'koa';
import { performance } from 'node:perf_hooks';
import type { Metrics } from '../metrics.js';
import type { HttpContext, RequestState } from './state.js';

export function metricsRouter(metrics: Metrics): Router<RequestState> {
  const router = new Router<RequestState>();
  router.get('/metrics', async (ctx) => {
    ctx.set('Content-Type', metrics.registry.contentType);
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}

/** Counts one answered request and its latency: every answer goes through here, Koa's or the overload gate's. */
export function recordRequest(
  metrics: Metrics,
  route: string,
  method: string,
  status: number,
  startedAt: number,
): void {
  metrics.requests.inc({ route, method, status });
  metrics.requestSeconds.observe({ route }, (performance.now() - startedAt) / 1000);
}

/** Starts the request clock (the deadline counts from here) and records route, status, latency. */
export function requestMetrics(metrics: Metrics, isDraining: () => boolean) {
  return async function measure(ctx: HttpContext, next: Next): Promise<void> {
    const startedAt = performance.now();
    ctx.state.startedAt = startedAt;
    try {
      await next();
    } finally {
      // Closing keep-alive connections while draining moves clients to other endpoints.
      if (isDraining()) ctx.set('Connection', 'close');
      const route = ctx._matchedRoute;
      recordRequest(metrics, typeof route === 'string' ? route : 'unmatched', ctx.method, ctx.status, startedAt);
    }
  };
}
