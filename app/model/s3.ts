// The S3 side of the model sources, through @aws-sdk/client-s3. A module of its own, loaded
// only when a model URI is s3://: the SDK costs ~300 ms of start-up that a file:// model
// (the bundled default) should not pay.
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import {
  isAbort,
  SourceError,
  type ModelSource,
  type ObjectInfo,
  type OpenOptions,
  type S3ClientOptions,
  type S3Settings,
} from './source-types.js';
import type { ModelLocation } from './uri.js';

export type { S3ClientOptions } from './source-types.js';

/**
 * An S3 client on the default credential chain (env keys, shared config, web identity /
 * IRSA, container and instance metadata), with the settings S3-compatible servers need.
 */
export function createS3Client(s3: S3Settings, options: S3ClientOptions = {}): S3Client {
  const idle = options.idleTimeoutMs ?? 30_000;
  const checksums = s3.checksums === 'when_supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED';
  const config: S3ClientConfig = {
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    // Default flexible checksums make some stores (s3rver among them) keep aws-chunked
    // framing inside objects (docs/model.md, "S3 checksums"). The MD5 check catches what slips through.
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
    maxAttempts: options.maxAttempts ?? 3,
    // Options for the SDK's NodeHttpHandler (it builds one from them).
    requestHandler: {
      connectionTimeout: options.connectTimeoutMs ?? 10_000,
      requestTimeout: idle,
      throwOnRequestTimeout: true,
      socketTimeout: idle,
    },
  };
  if (s3.endpoint !== undefined) config.endpoint = s3.endpoint;
  return new S3Client(config);
}

/** A URL fit for messages: no userinfo, no query. */
export function displayEndpoint(endpoint: string | undefined, region: string): string {
  if (endpoint === undefined) return `AWS S3 (${region})`;
  try {
    const u = new URL(endpoint);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'the S3 endpoint';
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
const NOT_FOUND = new Set(['NotFound', 'NoSuchKey', 'NoSuchBucket']);
const DENIED = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
]);
/** The bucket answers from another region (301 to its regional endpoint, or a signature for the wrong region). */
const WRONG_REGION = new Set(['PermanentRedirect', 'AuthorizationHeaderMalformed', 'IncorrectEndpoint']);

interface SdkLikeError {
  name?: string;
  code?: string;
  Region?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

/** Maps an SDK or network error to a SourceError whose message names no secret. */
export function classifyS3Error(err: unknown, op: string, uri: string, where: string): SourceError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkLikeError;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? 'Error';
  const code = e.code;
  const detail = [status === undefined ? undefined : `HTTP ${status}`, code ?? name].filter(Boolean).join(', ');
  if (name === 'CredentialsProviderError') {
    // The SDK found no credentials at all (no env keys, no web identity, no metadata):
    // nothing was sent, so "access denied" would send the operator to the wrong place.
    return new SourceError(
      'no_credentials',
      `${op} ${uri}: no S3 credentials found (${e.name}); set AWS credentials or a web identity (IRSA)`,
    );
  }
  const region = e.$response?.headers?.['x-amz-bucket-region'] ?? e.Region;
  // A HEAD has no body to name the error: AWS answers 301, or 400 with the bucket's region in a header.
  if (WRONG_REGION.has(name) || status === 301 || (status === 400 && region !== undefined)) {
    const where = region === undefined ? 'another region' : `region ${region}`;
    return new SourceError(
      'wrong_region',
      `${op} ${uri}: the bucket is in ${where} (${detail}); set AWS_REGION${region === undefined ? '' : `=${region}`}`,
      region,
    );
  }
  if (NOT_FOUND.has(name) || status === 404) {
    return new SourceError('not_found', `${op} ${uri}: not found (${detail})`);
  }
  if (DENIED.has(name) || status === 403 || status === 401) {
    return new SourceError(
      'access_denied',
      `${op} ${uri}: access denied (${detail}); check the credentials and the bucket policy`,
    );
  }
  if ((code !== undefined && NETWORK_CODES.has(code)) || name === 'TimeoutError') {
    return new SourceError('unreachable', `${op} ${uri}: ${where} unreachable (${detail})`);
  }
  if (status !== undefined && status >= 500) {
    return new SourceError('server_error', `${op} ${uri}: ${where} failing (${detail})`);
  }
  return new SourceError('failed', `${op} ${uri}: failed (${detail})`);
}

/** Drops the first `count` bytes: for a server that answers a Range request with the whole object. */
class SkipBytes extends Transform {
  constructor(private remaining: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.remaining >= chunk.length) {
      this.remaining -= chunk.length;
      done();
      return;
    }
    const rest = chunk.subarray(this.remaining);
    this.remaining = 0;
    done(null, rest);
  }
}

export class S3Source implements ModelSource {
  readonly uri: string;
  constructor(
    private readonly client: S3Client,
    private readonly loc: Extract<ModelLocation, { kind: 's3' }>,
    private readonly where: string,
  ) {
    this.uri = loc.uri;
  }

  async head(signal?: AbortSignal): Promise<ObjectInfo> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.loc.bucket, Key: this.loc.key }), {
        abortSignal: signal,
      });
      if (typeof out.ContentLength !== 'number' || out.ContentLength < 0) {
        throw new SourceError('failed', `HEAD ${this.uri}: no Content-Length in the answer`);
      }
      return { bytes: out.ContentLength, etag: out.ETag };
    } catch (err) {
      if (err instanceof SourceError || isAbort(err, signal)) throw err;
      throw classifyS3Error(err, 'HEAD', this.uri, this.where);
    }
  }

  async open(start: number, options: OpenOptions = {}): Promise<Readable> {
    const { signal, etag } = options;
    let out;
    try {
      out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.loc.bucket,
          Key: this.loc.key,
          Range: start > 0 ? `bytes=${start}-` : undefined,
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      if (isAbort(err, signal)) throw err;
      throw classifyS3Error(err, 'GET', this.uri, this.where);
    }
    const body = out.Body;
    if (!(body instanceof Readable)) {
      throw new SourceError('failed', `GET ${this.uri}: the answer has no streaming body`);
    }
    if (etag !== undefined && out.ETag !== undefined && out.ETag !== etag) {
      body.destroy();
      throw new SourceError(
        'changed',
        `GET ${this.uri}: the object changed during the download (ETag ${etag} -> ${out.ETag})`,
      );
    }
    if (start === 0) return body;
    const range = /^bytes (\d+)-\d+\/\d+$/.exec(out.ContentRange ?? '');
    if (range === null) {
      // The server ignored Range and sends the whole object: skip what is already on disk.
      // pipeline() forwards the body's errors to the stream returned.
      return pipeline(body, new SkipBytes(start), () => undefined);
    }
    if (Number(range[1]) !== start) {
      body.destroy();
      throw new SourceError('failed', `GET ${this.uri}: asked for bytes from ${start}, got ${out.ContentRange ?? ''}`);
    }
    return body;
  }
}
