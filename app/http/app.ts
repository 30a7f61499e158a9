// Assembles the Koa applications: the traffic app (API, probes; /metrics only while there is
// no management listener) and the management app (probes and metrics) for the optional
// MANAGEMENT_PORT. With a management listener, /metrics stays off the traffic port, so an
// Ingress or HTTPRoute forwarding every path never publishes it.
import Koa from 'koa';
import type { Config } from '../config.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Admission } from './admission.js';
import { BodyIntake, shapeLimits } from './body.js';
import { classifyRouter } from './classify.js';
import { errorMiddleware } from './errors.js';
import { healthRouter } from './health.js';
import { metricsRouter, requestMetrics } from './metrics.js';
import { oipRouter } from './oip.js';
import { oipHealthRouter } from './oip/health.js';
import { openApiRouter } from './openapi.js';
import type { RequestState } from './state.js';

export { overloadGate } from './shed.js';

export interface HttpDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly lifecycle: Lifecycle;
  readonly admission: Admission;
  readonly version: string;
}

function base(deps: HttpDeps, serveMetrics: boolean): Koa<RequestState> {
  const app = new Koa<RequestState>();
  app.silent = true; // errors are answered and logged by errorMiddleware
  const draining = (): boolean => deps.lifecycle.state === 'draining';
  app.use(requestMetrics(deps.metrics, draining));
  app.use(errorMiddleware(deps.logger, deps.config.admission.retryAfterSeconds));
  const health = healthRouter(deps.lifecycle, deps.metrics);
  app.use(health.routes());
  app.use(oipHealthRouter(deps.lifecycle).routes());
  if (serveMetrics) app.use(metricsRouter(deps.metrics).routes());
  return app;
}

export function createTrafficApp(deps: HttpDeps): Koa<RequestState> {
  const app = base(deps, deps.config.managementPort === 0);
  const { limits, http, admission } = deps.config;
  const bodies = new BodyIntake({
    maxBytes: limits.maxBodyBytes,
    timeoutMs: http.bodyTimeoutMs,
    maxReaders: http.maxBodyReaders,
    shape: shapeLimits(limits.maxBatch),
    retryAfterSeconds: admission.retryAfterSeconds,
  });
  const classifyDeps = {
    lifecycle: deps.lifecycle,
    admission: deps.admission,
    bodies,
    limits,
    requestTimeoutMs: admission.requestTimeoutMs,
  };
  const classify = classifyRouter(classifyDeps);
  app.use(classify.routes()).use(classify.allowedMethods());
  const oip = oipRouter(classifyDeps, deps.version);
  app.use(oip.routes()).use(oip.allowedMethods());
  app.use(openApiRouter().routes());
  return app;
}

export function createManagementApp(deps: HttpDeps): Koa<RequestState> {
  return base(deps, true);
}
