// Reads a JSON request body with a byte limit. Hand-written rather than a body-parser
// middleware: the classify hot path needs only this, and each parser layer measurably
// costs throughput (DESIGN.md: ~5%); the limit is enforced while streaming.
import type { Context } from 'koa';
import { ApiError } from './errors.js';

function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const mime = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json'));
}

export async function readJsonBody(ctx: Context, maxBytes: number): Promise<unknown> {
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
      reject(new ApiError(400, 'invalid_request', `the body could not be read: ${error.message}`));
    };
    const onAborted = (): void => {
      cleanup();
      reject(new ApiError(400, 'invalid_request', 'the client aborted the request'));
    };
    function cleanup(): void {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(400, 'invalid_json', `the body is not valid JSON: ${(error as Error).message}`);
  }
}
