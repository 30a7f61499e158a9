// What the OIP tests share: a raw HTTP call (no header added but Host, Content-Length and
// Connection, so a test controls Content-Type and Content-Encoding itself), the binary tensor
// data layout as a client builds and reads it, and a check of every response against
// docs/openapi.yaml.
import http from 'node:http';
import zlib from 'node:zlib';
import { assertMatchesOpenApi } from '../helpers/openapi.js';

export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The body as received (still compressed if Content-Encoding says so). */
  readonly raw: Buffer;
}

export function call(
  base: string,
  method: string,
  path: string,
  body?: Buffer | string,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<RawResponse> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        agent: false,
        method,
        headers: { ...headers, ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, raw: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The body inflated according to the response's Content-Encoding. */
export function inflated(res: RawResponse): Buffer {
  const encoding = res.headers['content-encoding'];
  if (encoding === 'gzip') return zlib.gunzipSync(res.raw);
  if (encoding === 'deflate') return zlib.inflateSync(res.raw);
  return res.raw;
}

export interface Decoded {
  readonly json: unknown;
  /** Bytes after the JSON header (binary tensor data), empty when there is none. */
  readonly tail: Buffer;
}

/** Splits a response as tritonclient's InferResult does: by Inference-Header-Content-Length. */
export function decode(res: RawResponse): Decoded {
  const body = inflated(res);
  const headerLength = res.headers['inference-header-content-length'];
  const length = headerLength === undefined ? body.length : Number(headerLength);
  return { json: JSON.parse(body.subarray(0, length).toString('utf8')) as unknown, tail: body.subarray(length) };
}

/** Decodes a response and checks it (or its JSON header) against docs/openapi.yaml. */
export function checked(method: string, path: string, res: RawResponse): Decoded {
  const decoded = decode(res);
  assertMatchesOpenApi(method, path, res.status, decoded.json);
  return decoded;
}

export function bytesElements(values: readonly (string | Buffer)[]): Buffer {
  return Buffer.concat(
    values.flatMap((v) => {
      const bytes = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    }),
  );
}

export function readBytesElements(buf: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < buf.length;) {
    const n = buf.readUInt32LE(at);
    out.push(buf.subarray(at + 4, at + 4 + n).toString('utf8'));
    at += 4 + n;
  }
  return out;
}

export function readFp32(buf: Buffer): number[] {
  const out: number[] = [];
  for (let at = 0; at + 4 <= buf.length; at += 4) out.push(buf.readFloatLE(at));
  return out;
}

/** A JSON header followed by binary data, and the header length to send with it. */
export function withTail(header: unknown, tail: Buffer): { body: Buffer; headerLength: string } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  return { body: Buffer.concat([json, tail]), headerLength: String(json.length) };
}

export interface OutputTensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: number[];
  readonly data?: Array<string | number>;
  readonly parameters?: { binary_data_size: number };
}
export interface InferBody {
  readonly model_name: string;
  readonly model_version: string;
  readonly id?: string;
  readonly outputs: OutputTensor[];
}

/** Each output's values, read from `data` or from the binary tail, by name. */
export function outputValues(decoded: Decoded): Record<string, Array<string | number>> {
  const body = decoded.json as InferBody;
  const out: Record<string, Array<string | number>> = {};
  let at = 0;
  for (const o of body.outputs) {
    if (o.data) {
      out[o.name] = o.data;
      continue;
    }
    const size = o.parameters?.binary_data_size ?? 0;
    const bytes = decoded.tail.subarray(at, at + size);
    at += size;
    out[o.name] = o.datatype === 'BYTES' ? readBytesElements(bytes) : readFp32(bytes);
  }
  return out;
}
