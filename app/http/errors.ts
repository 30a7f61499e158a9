// The one error shape of the API, and the middleware that turns anything thrown into it.
import type http from 'node:http';
import type { Next } from 'koa';
import { EngineError } from '../engine/classifier.js';
import { NotReadyError } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import type { HttpContext } from './state.js';

/**
 * Every error code the service answers, with its one status. ApiError takes only these, each
 * with its own status (checked by the compiler), and test/http/openapi-codes.test.ts holds
 * docs/openapi.yaml and the README's error table to this list.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_json: 400,
  invalid_request: 400,
  not_found: 404,
  model_not_found: 404,
  model_version_not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  payload_too_large: 413,
  unsupported_media_type: 415,
  expectation_failed: 417,
  text_too_long: 422,
  batch_too_large: 422,
  k_too_large: 422,
  body_too_complex: 422,
  headers_too_large: 431,
  internal: 500,
  not_implemented: 501,
  not_ready: 503,
  overloaded: 503,
  engine_unavailable: 503,
  deadline_exceeded: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class ApiError<C extends ErrorCode = ErrorCode> extends Error {
  constructor(
    readonly status: (typeof ERROR_STATUS)[C],
    readonly code: C,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** `instanceof ApiError` narrows to ApiError<any> (the class is generic); this keeps the code typed. */
export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError;
}

export function toApiError(error: unknown, retryAfterSeconds: number): ApiError {
  if (isApiError(error)) return error;
  if (error instanceof NotReadyError)
    return new ApiError(503, 'not_ready', `the model is not ready (${error.reason})`, retryAfterSeconds);
  if (error instanceof EngineError) {
    if (error.code === 'deadline_exceeded')
      return new ApiError(
        504,
        'deadline_exceeded',
        'the classification did not finish in time: within the request deadline (REQUEST_TIMEOUT_MS) or, once a fastText child had its lines, the engine call timeout (ENGINE_CALL_TIMEOUT_MS)',
      );
    return new ApiError(503, 'engine_unavailable', `the classifier is restarting (${error.code})`, retryAfterSeconds);
  }
  return new ApiError(500, 'internal', 'internal error');
}

/** Errors on /v2 (and /v2/...) follow the Open Inference Protocol: `{"error": "<message>"}`. */
function isOipPath(p: string): boolean {
  const lower = p.slice(0, 4).toLowerCase();
  return lower === '/v2' ? p.length === 3 : lower === '/v2/';
}

/** The JSON error body for a request path (v1 `{"error": {code, message}}`, OIP `{"error": "code: message"}`). */
export function errorBody(path: string, code: string, message: string): object {
  return isOipPath(path) ? { error: `${code}: ${message}` } : { error: { code, message } };
}

export function sendError(ctx: HttpContext, e: ApiError): void {
  ctx.status = e.status;
  if (e.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(e.retryAfterSeconds));
  ctx.body = errorBody(ctx.path, e.code, e.message);
}

/** The headers of an error written on a raw response, before or outside Koa. */
export function errorHeaders(body: string, e: ApiError, close: boolean): http.OutgoingHttpHeaders {
  return {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...(e.retryAfterSeconds === undefined ? {} : { 'retry-after': String(e.retryAfterSeconds) }),
    ...(close ? { connection: 'close' } : {}),
  };
}

/** Writes an ApiError on a raw node response (answers made before Koa sees the request). */
export function writeError(res: http.ServerResponse, path: string, e: ApiError, close = false): void {
  if (res.destroyed || res.headersSent) return;
  const body = JSON.stringify(errorBody(path, e.code, e.message));
  res.writeHead(e.status, errorHeaders(body, e, close));
  res.end(body);
}

export function errorMiddleware(logger: Logger, retryAfterSeconds: number) {
  return async function errors(ctx: HttpContext, next: Next): Promise<void> {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined)
        throw new ApiError(404, 'not_found', `no route for ${ctx.method} ${ctx.path}`);
      if (ctx.status === 405 && (ctx.body === undefined || typeof ctx.body === 'string')) {
        throw new ApiError(405, 'method_not_allowed', `${ctx.method} is not allowed on ${ctx.path}`);
      }
      // The router answers 501 (plain text) to a method it implements on no route (PROPFIND, SEARCH...).
      if (ctx.status === 501 && (ctx.body === undefined || typeof ctx.body === 'string')) {
        throw new ApiError(501, 'not_implemented', `${ctx.method} is not implemented by this server`);
      }
    } catch (error) {
      const apiError = toApiError(error, retryAfterSeconds);
      if (apiError.status === 500)
        logger.error({ event: 'unhandled_error', err: error, path: ctx.path }, 'request failed');
      sendError(ctx, apiError);
    }
  };
}
