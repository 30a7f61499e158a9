// Reads a JSON request body with a byte limit. Hand-written rather than a body-parser
// middleware: the classify hot path needs only this, and a general parser layer (content
// negotiation, encodings, form bodies) is work this API never needs on its hottest path;
// the limit is enforced while streaming.
import type { Context } from 'koa';
import { performance } from 'node:perf_hooks';
import { errorMessage } from '../errors.js';
import { ApiError } from './errors.js';

function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const mime = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json'));
}

export async function readJsonBody(ctx: Context, maxBytes: number, deadlineMs: number): Promise<unknown> {
  const req = ctx.req;
  if (!isJson(req.headers['content-type'])) {
    throw new ApiError(415, 'unsupported_media_type', 'the body must be JSON (Content-Type: application/json)');
  }
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    throw new ApiError(415, 'unsupported_media_type', `Content-Encoding ${encoding} is not supported`);
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    throw new ApiError(413, 'payload_too_large', `the body is larger than ${maxBytes} bytes`);
  }
  // The client may have gone while this request waited for an admission slot: its
  // 'aborted'/'close' events are then already past, and waiting for 'end' would hold the
  // slot forever (measured: every slot lost after one surge of disconnecting clients).
  if (req.destroyed || req.readableAborted) {
    throw new ApiError(400, 'invalid_request', 'the client closed the connection before the body was read');
  }
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > maxBytes) {
        cleanup();
        // Stop reading; the response still goes out and the connection is closed after it.
        ctx.set('Connection', 'close');
        reject(new ApiError(413, 'payload_too_large', `the body is larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new ApiError(400, 'invalid_request', `the body could not be read: ${errorMessage(error)}`));
    };
    const onAborted = (): void => {
      cleanup();
      reject(new ApiError(400, 'invalid_request', 'the client aborted the request'));
    };
    // A body that has not arrived by the request's deadline is not waited for.
    const timer = setTimeout(() => {
      cleanup();
      ctx.set('Connection', 'close');
      reject(new ApiError(408, 'request_timeout', 'the request body did not arrive before the request deadline'));
    }, Math.max(0, deadlineMs - performance.now()));
    function cleanup(): void {
      clearTimeout(timer);
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
    // 'close' before 'end' is a connection that went away mid-body.
    req.on('close', onAborted);
  });
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(400, 'invalid_json', `the body is not valid JSON: ${errorMessage(error)}`);
  }
}
