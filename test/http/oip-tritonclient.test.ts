// tritonclient's HTTP client (tritonclient.http.InferenceServerClient over geventhttpclient
// 2.3.8), reproduced byte for byte over one raw keep-alive socket, since no Python client can
// be installed here. What it sends, as its sources show:
// - request line and headers from geventhttpclient: `User-Agent:
//   python/gevent-http-client-2.3.8` first, then the call's own headers in the order the
//   client adds them (Content-Encoding, Accept-Encoding, Inference-Header-Content-Length),
//   then Host and Content-Length; no Content-Type, ever; CRLF line ends;
// - the body: rapidjson.dumps of the request (compact, keys in insertion order: id, inputs,
//   outputs, parameters), then each binary input's bytes; `binary_data_output: true` in the
//   parameters when no outputs are named; an input set with set_data_from_numpy(binary_data=
//   True) (the default) carries `parameters.binary_data_size` and no `data`, its BYTES
//   elements as a 4-byte little-endian length and the bytes; InferRequestedOutput adds
//   `parameters.binary_data` (default true); request compression is gzip.compress or
//   zlib.compress of the whole body, the header length still the uncompressed JSON's;
// - versioned routes as /v2/models/{name}/versions/{version}/... when a version is given.
// It reads responses as InferResult does: inflate per Content-Encoding, split at
// Inference-Header-Content-Length, and find each binary output by its binary_data_size; any
// status but 200 must carry a JSON body with a string `error`.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { BUNDLED_MD5, startService, type RunningService } from '../helpers/service.js';
import { bytesElements, checked, outputValues, type InferBody, type RawResponse } from './oip-support.js';

const USER_AGENT = 'python/gevent-http-client-2.3.8';
const MODEL = 'lid176';
const TEXTS = ['Das ist ein deutscher Satz über das Wetter.', 'Ceci est une phrase en français.'];

let svc: RunningService;
let cacheDir: string;

test.before(async () => {
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'fte-triton-'));
  svc = await startService({ env: { MODEL_CACHE_DIR: cacheDir } });
  await svc.waitReady(20_000);
});

test.after.always(async () => {
  await svc?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

/** One keep-alive connection, requests sent as exact bytes, responses read by Content-Length. */
class RawConnection {
  private buffered = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.waiter?.();
    });
  }
  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }
  async exchange(request: Buffer, timeoutMs = 10_000): Promise<RawResponse> {
    this.socket.write(request);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.buffered.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(head[0]?.split(' ')[1]);
        const headers: Record<string, string> = {};
        for (const line of head.slice(1)) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        if (headers['content-length'] === undefined) throw new Error(`no Content-Length in ${head.join(' | ')}`);
        const total = end + 4 + Number(headers['content-length']);
        if (this.buffered.length >= total) {
          const raw = this.buffered.subarray(end + 4, total);
          this.buffered = this.buffered.subarray(total);
          return { status, headers, raw };
        }
      }
      if (Date.now() > deadline || this.socket.destroyed) throw new Error('no complete response before the deadline');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
  close(): void {
    this.socket.destroy();
  }
}

/** geventhttpclient's request bytes: default header first, the call's, then Host and Content-Length. */
function geventRequest(
  method: 'GET' | 'POST',
  uri: string,
  port: number,
  headers: Array<[string, string]> = [],
  body?: Buffer,
): Buffer {
  const lines = [
    `${method} ${uri} HTTP/1.1`,
    `User-Agent: ${USER_AGENT}`,
    ...headers.map(([k, v]) => `${k}: ${v}`),
    `Host: 127.0.0.1:${port}`,
  ];
  if (body && body.length > 0) lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body ?? Buffer.alloc(0)]);
}

interface InferCall {
  readonly version?: string;
  readonly requestId?: string;
  readonly binaryInput: boolean;
  readonly outputs?: Array<{ name: string; binary: boolean }>;
  readonly parameters?: Record<string, number>;
  readonly requestCompression?: 'gzip' | 'deflate';
  readonly responseCompression?: 'gzip' | 'deflate';
}

/** What InferenceServerClient.infer sends for InferInput('text', [2, 1], 'BYTES') and this call. */
function inferRequest(port: number, c: InferCall): Buffer {
  const request: Record<string, unknown> = {};
  if (c.requestId) request.id = c.requestId;
  const tail = c.binaryInput ? bytesElements(TEXTS) : undefined;
  request.inputs = [
    tail
      ? { name: 'text', shape: [2, 1], datatype: 'BYTES', parameters: { binary_data_size: tail.length } }
      : { name: 'text', shape: [2, 1], datatype: 'BYTES', data: TEXTS },
  ];
  const parameters: Record<string, unknown> = {};
  if (c.outputs) request.outputs = c.outputs.map((o) => ({ name: o.name, parameters: { binary_data: o.binary } }));
  else parameters.binary_data_output = true;
  Object.assign(parameters, c.parameters ?? {});
  if (Object.keys(parameters).length > 0) request.parameters = parameters;
  // rapidjson escapes non-ASCII (ensure_ascii), so its length in characters is its length in bytes.
  const json = JSON.stringify(request).replace(
    /[\u0080-\uffff]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  let body = Buffer.concat([Buffer.from(json, 'ascii'), tail ?? Buffer.alloc(0)]);
  const headers: Array<[string, string]> = [];
  if (c.requestCompression === 'gzip') {
    headers.push(['Content-Encoding', 'gzip']);
    body = zlib.gzipSync(body);
  } else if (c.requestCompression === 'deflate') {
    headers.push(['Content-Encoding', 'deflate']);
    body = zlib.deflateSync(body);
  }
  if (c.responseCompression) headers.push(['Accept-Encoding', c.responseCompression]);
  if (tail) headers.push(['Inference-Header-Content-Length', String(json.length)]);
  const uri = c.version ? `/v2/models/${MODEL}/versions/${c.version}/infer` : `/v2/models/${MODEL}/infer`;
  return geventRequest('POST', uri, port, headers, body);
}

/** InferResult's reading: an error body for any status but 200, else outputs by name. */
function readResult(
  t: import('ava').ExecutionContext,
  res: RawResponse,
  uri: string,
): Record<string, Array<string | number>> {
  const decoded = checked('POST', uri, res);
  t.is(res.status, 200, JSON.stringify(decoded.json));
  return outputValues(decoded);
}

test('tritonclient, byte for byte: probes, metadata, and infer with binary, JSON, compressed and versioned requests', async (t) => {
  const port = Number(new URL(svc.url).port);
  const conn = await RawConnection.open(port);
  try {
    const live = await conn.exchange(geventRequest('GET', '/v2/health/live', port));
    t.is(live.status, 200, 'is_server_live() is true on a 200');
    checked('GET', '/v2/health/live', live);
    const ready = await conn.exchange(geventRequest('GET', `/v2/models/${MODEL}/versions/${BUNDLED_MD5}/ready`, port));
    t.is(ready.status, 200, 'is_model_ready(name, version) is true on a 200');
    checked('GET', `/v2/models/${MODEL}/versions/${BUNDLED_MD5}/ready`, ready);
    const metadata = await conn.exchange(geventRequest('GET', `/v2/models/${MODEL}`, port));
    t.is(metadata.status, 200);
    t.deepEqual((checked('GET', `/v2/models/${MODEL}`, metadata).json as { versions: string[] }).versions, [
      BUNDLED_MD5,
    ]);

    // infer(model, [InferInput ... set_data_from_numpy(array)]): binary in, binary out.
    const plainUri = `/v2/models/${MODEL}/infer`;
    const plain = await conn.exchange(inferRequest(port, { binaryInput: true }));
    t.is(plain.headers['content-type'], 'application/octet-stream');
    t.truthy(plain.headers['inference-header-content-length']);
    const plainOut = readResult(t, plain, plainUri);
    t.deepEqual(plainOut.label, ['de', 'fr']);
    t.is(plainOut.score?.length, 2);

    // The same with a version, request_id, k, gzip request and response compression.
    const versionedUri = `/v2/models/${MODEL}/versions/${BUNDLED_MD5}/infer`;
    const compressed = await conn.exchange(
      inferRequest(port, {
        version: BUNDLED_MD5,
        requestId: 'r-7',
        binaryInput: true,
        parameters: { k: 2 },
        requestCompression: 'gzip',
        responseCompression: 'gzip',
      }),
    );
    t.is(compressed.headers['content-encoding'], 'gzip');
    const compressedOut = readResult(t, compressed, versionedUri);
    t.is(compressedOut.label?.length, 4);
    t.deepEqual([compressedOut.label?.[0], compressedOut.label?.[2]], ['de', 'fr']);

    // set_data_from_numpy(binary_data=False), named outputs with mixed binary_data, deflate.
    const mixed = await conn.exchange(
      inferRequest(port, {
        binaryInput: false,
        outputs: [
          { name: 'score', binary: true },
          { name: 'label', binary: false },
        ],
        requestCompression: 'deflate',
        responseCompression: 'deflate',
      }),
    );
    const mixedBody = checked('POST', plainUri, mixed);
    t.is(mixed.status, 200, JSON.stringify(mixedBody.json));
    t.deepEqual(
      (mixedBody.json as InferBody).outputs.map((o) => o.name),
      ['score', 'label'],
    );
    t.deepEqual(outputValues(mixedBody).label, ['de', 'fr']);

    // Errors reach the client as InferenceServerException(msg=body["error"]).
    const unknownUri = `/v2/models/${MODEL}/versions/42/infer`;
    const unknownVersion = await conn.exchange(inferRequest(port, { version: '42', binaryInput: true }));
    t.is(unknownVersion.status, 404);
    t.regex(
      (checked('POST', unknownUri, unknownVersion).json as { error: string }).error,
      /^model_version_not_found: /,
    );
    const afterError = await conn.exchange(geventRequest('GET', '/v2/health/ready', port));
    t.is(afterError.status, 200, 'the connection is still usable after an error whose body was not read');
    checked('GET', '/v2/health/ready', afterError);
  } finally {
    conn.close();
  }
});
