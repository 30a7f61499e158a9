// Reads a classification request's JSON body: before the request takes an admission slot
// (slots are for work, not for waiting on a client's bytes), under its own short deadline
// (BODY_TIMEOUT_MS), with a bound on how many requests may be sending a body at once
// (MAX_BODY_READERS), and with the body's structure checked while it arrives (json-shape.ts).
// Hand-written rather than a body-parser middleware: the classify hot path needs only this,
// and a general parser (content negotiation, encodings, form bodies) is work this API never
// needs on its hottest path.
import { isUtf8 } from 'node:buffer';
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import { errorMessage } from '../errors.js';
import { ApiError, isApiError } from './errors.js';
import { JsonShapeScanner, type JsonShapeLimits } from './json-shape.js';

export interface BodyOptions {
  readonly maxBytes: number;
  /** How long a body may take to arrive, from the moment Koa sees the request. */
  readonly timeoutMs: number;
  /** Requests sending a body at once; past it the one sending longest is cut off (503). */
  readonly maxReaders: number;
  readonly shape: JsonShapeLimits;
  readonly retryAfterSeconds: number;
}

/**
 * The structure limits of a request body: the deepest request this API takes nests 4 levels
 * and has about 10 keys; an OIP tensor of shape [N, 1] is 2N values.
 */
export function shapeLimits(maxBatch: number): JsonShapeLimits {
  return { maxDepth: 32, maxKeys: 1024, maxArrayElements: maxBatch, maxValues: 2 * maxBatch + 1024 };
}

function checkContentType(contentType: string | undefined): void {
  const [mimePart, ...params] = (contentType ?? '').split(';');
  const mime = mimePart?.trim().toLowerCase() ?? '';
  if (mime !== 'application/json' && !(mime.startsWith('application/') && mime.endsWith('+json'))) {
    throw new ApiError(415, 'unsupported_media_type', 'the body must be JSON (Content-Type: application/json)');
  }
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8')
      throw new ApiError(415, 'unsupported_media_type', `charset ${charset} is not supported; send UTF-8`);
  }
}

interface Reading {
  /** Ends this reading with an error answer (the client is cut off). */
  readonly fail: (error: ApiError) => void;
}

/** The body reader of one listener: the bound on concurrent readers is shared by its requests. */
export class BodyIntake {
  /** Requests still sending a body, oldest first (a Set keeps insertion order). */
  private readonly readings = new Set<Reading>();

  constructor(private readonly options: BodyOptions) {}

  /** Requests still sending their body now. */
  get readers(): number {
    return this.readings.size;
  }

  /** Counts `reading` as a body reader; past the bound, cuts off the one that has been sending longest. */
  private enter(reading: Reading): void {
    this.readings.add(reading);
    if (this.readings.size <= this.options.maxReaders) return;
    // The longest sender is the likeliest to be stalling, and a client whose body arrives at
    // once (almost every real one) then always finds room.
    const oldest = this.readings.values().next().value as Reading;
    oldest.fail(
      new ApiError(
        503,
        'overloaded',
        'too many clients are sending request bodies at once; retry later',
        this.options.retryAfterSeconds,
      ),
    );
  }

  /** When the body must have arrived: BODY_TIMEOUT_MS after the request began, or its deadline. */
  bodyDeadline(startedAt: number, deadlineMs: number): number {
    return Math.min(startedAt + this.options.timeoutMs, deadlineMs);
  }

  /**
   * Runs another body reader (`read`, given the body deadline) as a counted body reader: cut
   * off with 503 past MAX_BODY_READERS like any other. For bodies read their own way (the OIP
   * route's compressed and binary bodies); `read` must enforce the deadline it is given, and
   * name `allowedMs` (the time from the request's start to it) when it answers 408.
   */
  guard<T>(
    startedAt: number,
    deadlineMs: number,
    setClose: () => void,
    read: (bodyDeadlineMs: number, allowedMs: number) => Promise<T>,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const reading: Reading = {
        fail: (error) => {
          this.readings.delete(reading);
          setClose();
          reject(error);
        },
      };
      this.enter(reading);
      const bodyDeadline = this.bodyDeadline(startedAt, deadlineMs);
      read(bodyDeadline, Math.round(bodyDeadline - startedAt)).then(
        (value) => {
          this.readings.delete(reading);
          resolve(value);
        },
        (error: unknown) => {
          this.readings.delete(reading);
          reject(error);
        },
      );
    });
  }

  /** The structure check of json-shape.ts over a whole body at once (422 past a limit). */
  checkShape(json: Buffer): void {
    new JsonShapeScanner(this.options.shape).feed(json);
  }

  /** The raw body bytes, its structure checked; throws ApiError (408, 413, 415, 422, 503, 400). */
  async read(req: http.IncomingMessage, startedAt: number, deadlineMs: number, setClose: () => void): Promise<Buffer> {
    const { maxBytes } = this.options;
    checkContentType(req.headers['content-type']);
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      throw new ApiError(415, 'unsupported_media_type', `Content-Encoding ${encoding} is not supported`);
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > maxBytes) {
      throw new ApiError(413, 'payload_too_large', `the body is larger than ${maxBytes} bytes`);
    }
    if (req.destroyed || req.readableAborted) {
      throw new ApiError(400, 'invalid_request', 'the client closed the connection before the body was read');
    }
    const scanner = new JsonShapeScanner(this.options.shape);
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let received = 0;
      const reading: Reading = {
        fail: (error) => {
          cleanup();
          if (error.status === 422) {
            // A body refused for its structure still arrives in full (its declared length is
            // within the limit): discard the rest unread, so the answer is not lost to a reset
            // and the connection stays usable.
            req.resume();
          } else {
            // A client that stalls or sends too much: close after the answer.
            setClose();
          }
          reject(error);
        },
      };
      const onData = (chunk: Buffer): void => {
        received += chunk.length;
        if (received > maxBytes)
          return reading.fail(new ApiError(413, 'payload_too_large', `the body is larger than ${maxBytes} bytes`));
        try {
          scanner.feed(chunk);
        } catch (error) {
          return reading.fail(isApiError(error) ? error : new ApiError(400, 'invalid_json', errorMessage(error)));
        }
        chunks.push(chunk);
      };
      const onEnd = (): void => {
        cleanup();
        resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received));
      };
      const onError = (error: Error): void => {
        cleanup();
        reject(new ApiError(400, 'invalid_request', `the body could not be read: ${errorMessage(error)}`));
      };
      const onAborted = (): void => {
        cleanup();
        reject(new ApiError(400, 'invalid_request', 'the client aborted the request'));
      };
      // BODY_TIMEOUT_MS from the request's start, or its deadline when sooner: the 408 names the one applied.
      const bodyDeadline = this.bodyDeadline(startedAt, deadlineMs);
      const allowedMs = Math.round(bodyDeadline - startedAt);
      const timer = setTimeout(
        () =>
          reading.fail(new ApiError(408, 'request_timeout', `the request body did not arrive within ${allowedMs} ms`)),
        Math.max(0, bodyDeadline - performance.now()),
      );
      const cleanup = (): void => {
        clearTimeout(timer);
        this.readings.delete(reading);
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('error', onError);
        req.off('aborted', onAborted);
        req.off('close', onAborted);
      };
      this.enter(reading);
      req.on('data', onData);
      req.on('end', onEnd);
      req.on('error', onError);
      req.on('aborted', onAborted);
      // 'close' before 'end' is a connection that went away mid-body.
      req.on('close', onAborted);
    });
  }
}

/** The body as JSON; 400 invalid_json for bytes that are not UTF-8 or not JSON. */
export function parseJsonBody(body: Buffer): unknown {
  if (!isUtf8(body)) throw new ApiError(400, 'invalid_json', 'the body is not valid UTF-8');
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (error) {
    throw new ApiError(400, 'invalid_json', `the body is not valid JSON: ${errorMessage(error)}`);
  }
}
