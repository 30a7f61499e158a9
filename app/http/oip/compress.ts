// Compresses a successful /v2 response with gzip or deflate when the request's Accept-Encoding
// asks for one (tritonclient's response_compression_algorithm). Koa's own negotiation picks the
// encoding; no Accept-Encoding header means identity (the RFC allows any encoding then, but
// clients that send none do not expect one). A binary-tensor response keeps its
// Inference-Header-Content-Length: it measures the JSON header before compression, which is
// where the client looks for it after inflating.
import type { Context, Next } from 'koa';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);

export function responseEncoding(ctx: Context): 'gzip' | 'deflate' | undefined {
  if (ctx.get('Accept-Encoding') === '') return undefined;
  const chosen = ctx.acceptsEncodings('gzip', 'deflate', 'identity');
  return chosen === 'gzip' || chosen === 'deflate' ? chosen : undefined;
}

export async function compressResponse(ctx: Context, next: Next): Promise<void> {
  await next();
  ctx.vary('Accept-Encoding');
  const encoding = responseEncoding(ctx);
  const body: unknown = ctx.body;
  if (!encoding || body === undefined || body === null || ctx.method === 'HEAD') return;
  let raw: Buffer;
  if (Buffer.isBuffer(body)) raw = body;
  else if (typeof body === 'string') raw = Buffer.from(body, 'utf8');
  else if (
    typeof body === 'object' &&
    !(body instanceof Uint8Array) &&
    typeof (body as { pipe?: unknown }).pipe !== 'function'
  )
    raw = Buffer.from(JSON.stringify(body), 'utf8');
  else return;
  // Koa keeps the Content-Type already set when the body turns into a Buffer.
  ctx.body = encoding === 'gzip' ? await gzip(raw) : await deflate(raw);
  ctx.set('Content-Encoding', encoding);
}
