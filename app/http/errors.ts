// The one error shape of the API, and the middleware that turns anything thrown into it.
import type { Context, Next } from 'koa';
import { EngineError } from '../engine/classifier.js';
import { NotReadyError } from '../lifecycle.js';
import type { Logger } from '../logger.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function toApiError(error: unknown, retryAfterSeconds: number): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof NotReadyError) return new ApiError(503, 'not_ready', `the model is not ready (${error.reason})`, retryAfterSeconds);
  if (error instanceof EngineError) {
    if (error.code === 'deadline_exceeded') return new ApiError(504, 'deadline_exceeded', 'the classification did not finish within the request deadline');
    return new ApiError(503, 'engine_unavailable', `the classifier is restarting (${error.code})`, retryAfterSeconds);
  }
  return new ApiError(500, 'internal', 'internal error');
}

/** Errors on /v2 (and /v2/...) follow the Open Inference Protocol: `{"error": "<message>"}`. */
function isOipPath(p: string): boolean {
  return p === '/v2' || p.startsWith('/v2/');
}

export function sendError(ctx: Context, e: ApiError): void {
  ctx.status = e.status;
  if (e.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(e.retryAfterSeconds));
  ctx.body = isOipPath(ctx.path) ? { error: `${e.code}: ${e.message}` } : { error: { code: e.code, message: e.message } };
}

export function errorMiddleware(logger: Logger, retryAfterSeconds: number) {
  return async function errors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new ApiError(404, 'not_found', `no route for ${ctx.method} ${ctx.path}`);
      if (ctx.status === 405 && (ctx.body === undefined || typeof ctx.body === 'string')) {
        throw new ApiError(405, 'method_not_allowed', `${ctx.method} is not allowed on ${ctx.path}`);
      }
    } catch (error) {
      const apiError = toApiError(error, retryAfterSeconds);
      if (apiError.status === 500) logger.error({ event: 'unhandled_error', err: error, path: ctx.path }, 'request failed');
      sendError(ctx, apiError);
    }
  };
}
