// Reads a request body as bytes, inflating gzip or deflate (Content-Encoding) on the way, with
// the byte limit counted on the decompressed bytes: the inflater is fed as bytes arrive and
// stopped as soon as its output passes the limit, so a small compressed body that inflates to
// gigabytes (a "zip bomb") costs at most the limit plus one inflater chunk of memory.
// Node's zlib streams do the work; what is hand-written is only the accounting and the
// teardown on every path (limit, deadline, client gone, corrupt stream).
import type { Context } from 'koa';
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import { ApiError } from '../errors.js';

export type BodyEncoding = 'identity' | 'gzip' | 'deflate';

/** The Content-Encoding of a request body, or 415 for one this service cannot read. */
export function requestEncoding(header: string | undefined): BodyEncoding {
  const value = (header ?? '').trim().toLowerCase();
  if (value === '' || value === 'identity') return 'identity';
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  if (value === 'deflate') return 'deflate';
  throw new ApiError(
    415,
    'unsupported_media_type',
    `Content-Encoding ${JSON.stringify(header)} is not supported (gzip, deflate or identity)`,
  );
}

/**
 * "deflate" in HTTP means the zlib format (RFC 1950), but some clients send a raw deflate
 * stream (RFC 1951). A zlib stream starts with a two-byte header whose 16-bit value is a
 * multiple of 31 and whose method nibble is 8; a raw stream almost never does.
 */
function inflaterFor(first: Buffer): zlib.Inflate | zlib.InflateRaw {
  const b0 = first[0] ?? 0;
  const b1 = first[1] ?? 0;
  const isZlib = (b0 & 0x0f) === 8 && ((b0 << 8) | b1) % 31 === 0;
  return isZlib ? zlib.createInflate() : zlib.createInflateRaw();
}

function tooLarge(ctx: Context, maxBytes: number, decompressed: boolean): ApiError {
  // Stop reading; the response still goes out and the connection is closed after it.
  ctx.set('Connection', 'close');
  return new ApiError(
    413,
    'payload_too_large',
    `the body is larger than ${maxBytes} bytes${decompressed ? ' once decompressed' : ''}`,
  );
}

export async function readBodyBytes(
  ctx: Context,
  maxBytes: number,
  deadlineMs: number,
  /** What the 408 names: the time the request was given for its body, from its start. */
  allowedMs: number,
): Promise<Buffer> {
  const req = ctx.req;
  const encoding = requestEncoding(req.headers['content-encoding']);
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge(ctx, maxBytes, false);
  // The client may have gone while this request waited for an admission slot: its
  // 'aborted'/'close' events are then already past, and waiting for 'end' would never end.
  if (req.destroyed || req.readableAborted) {
    throw new ApiError(400, 'invalid_request', 'the client closed the connection before the body was read');
  }
  return new Promise<Buffer>((resolve, reject) => {
    const out: Buffer[] = [];
    let received = 0;
    let produced = 0;
    let inflater: zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | undefined;
    let settled = false;

    const finish = (error: ApiError | undefined, body?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      detachRequest();
      if (inflater) {
        inflater.removeAllListeners('data');
        inflater.removeAllListeners('end');
        inflater.on('error', () => undefined); // a late error after teardown is expected
        inflater.destroy();
      }
      if (error) reject(error);
      else resolve(body ?? Buffer.alloc(0));
    };
    const onOutput = (chunk: Buffer): void => {
      produced += chunk.length;
      if (produced > maxBytes) {
        finish(tooLarge(ctx, maxBytes, encoding !== 'identity'));
        return;
      }
      out.push(chunk);
    };
    const startInflater = (first: Buffer): void => {
      inflater = encoding === 'gzip' ? zlib.createGunzip() : inflaterFor(first);
      inflater.on('data', onOutput);
      inflater.on('end', () => finish(undefined, Buffer.concat(out, produced)));
      inflater.on('error', (error: Error) =>
        finish(
          new ApiError(400, 'invalid_request', `the ${encoding} body could not be decompressed: ${error.message}`),
        ),
      );
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      // Compressed bytes count too: a stream that inflates to little is still read in full.
      if (received > maxBytes) {
        finish(tooLarge(ctx, maxBytes, false));
        return;
      }
      if (encoding === 'identity') {
        onOutput(chunk);
        return;
      }
      if (!inflater) startInflater(chunk);
      inflater?.write(chunk);
    };
    const onEnd = (): void => {
      // The request is complete: its 'close' that follows is not an abort.
      detachRequest();
      if (encoding === 'identity') finish(undefined, out.length === 1 ? out[0] : Buffer.concat(out, produced));
      else if (!inflater)
        finish(new ApiError(400, 'invalid_request', `the body is empty but declares Content-Encoding ${encoding}`));
      else inflater.end(); // 'end' or 'error' of the inflater settles
    };
    const onError = (error: Error): void =>
      finish(new ApiError(400, 'invalid_request', `the body could not be read: ${error.message}`));
    // 'close' before 'end' is a connection that went away mid-body.
    const onAborted = (): void => finish(new ApiError(400, 'invalid_request', 'the client aborted the request'));
    // A body that has not arrived (or inflated) by its deadline (BODY_TIMEOUT_MS, or the
    // request's deadline when sooner) is not waited for.
    const timer = setTimeout(
      () => {
        ctx.set('Connection', 'close');
        finish(new ApiError(408, 'request_timeout', `the request body did not arrive within ${allowedMs} ms`));
      },
      Math.max(0, deadlineMs - performance.now()),
    );
    function detachRequest(): void {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      req.off('close', onAborted);
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
    req.on('close', onAborted);
  });
}
