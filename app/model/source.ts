// Where model bytes come from: an S3 object (app/model/s3.ts, loaded on demand) or a local file,
// behind one small interface the store can resume on: head() for the size and version,
// open(start) for the bytes from an offset. Failures are SourceErrors of a few kinds,
// with messages built from status codes and error names only: never a credential, a
// signed URL or a response body.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  isAbort,
  SourceError,
  type ModelSource,
  type ObjectInfo,
  type OpenOptions,
  type S3ClientOptions,
  type S3Settings,
} from './source-types.js';
import { parseModelUri, type ModelLocation } from './uri.js';

export { isAbort, SourceError } from './source-types.js';
export type {
  ModelSource,
  ObjectInfo,
  OpenOptions,
  S3ClientOptions,
  S3Settings,
  SourceErrorKind,
} from './source-types.js';

type S3Module = typeof import('./s3.js');

function fileError(err: unknown, op: string, uri: string): SourceError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new SourceError('not_found', `${op} ${uri}: no such file (${code})`);
  if (code === 'EACCES' || code === 'EPERM')
    return new SourceError('access_denied', `${op} ${uri}: permission denied (${code})`);
  return new SourceError('failed', `${op} ${uri}: ${code}`);
}

class FileSource implements ModelSource {
  readonly uri: string;
  constructor(private readonly loc: Extract<ModelLocation, { kind: 'file' }>) {
    this.uri = loc.uri;
  }

  async head(): Promise<ObjectInfo> {
    try {
      const st = await stat(this.loc.path);
      if (!st.isFile()) throw new SourceError('failed', `stat ${this.uri}: not a regular file`);
      return { bytes: st.size, etag: `${st.size}-${st.mtimeMs}` };
    } catch (err) {
      if (err instanceof SourceError) throw err;
      throw fileError(err, 'stat', this.uri);
    }
  }

  async open(start: number, options: OpenOptions = {}): Promise<Readable> {
    if (options.etag !== undefined) {
      const now = await this.head();
      if (now.etag !== options.etag) {
        throw new SourceError('changed', `read ${this.uri}: the file changed during the copy`);
      }
    }
    const stream = createReadStream(this.loc.path, { start, signal: options.signal });
    // Surface open errors (ENOENT, EACCES) here, typed, rather than mid-iteration.
    await new Promise<void>((resolve, reject) => {
      stream.once('ready', () => resolve());
      stream.once('error', (err) => reject(isAbort(err, options.signal) ? err : fileError(err, 'read', this.uri)));
    });
    return stream;
  }
}

/** An s3:// source whose SDK module loads on first use. */
class LazyS3Source implements ModelSource {
  constructor(
    private readonly factory: SourceFactory,
    private readonly loc: Extract<ModelLocation, { kind: 's3' }>,
  ) {}

  get uri(): string {
    return this.loc.uri;
  }

  async head(signal?: AbortSignal): Promise<ObjectInfo> {
    return (await this.factory.s3Source(this.loc)).head(signal);
  }

  async open(start: number, options?: OpenOptions): Promise<Readable> {
    return (await this.factory.s3Source(this.loc)).open(start, options);
  }
}

/** Makes sources for URIs, sharing one S3 client (and its connection pool). */
export class SourceFactory {
  private s3Module: Promise<S3Module> | undefined;
  private client: S3Client | undefined;

  constructor(
    private readonly s3: S3Settings,
    private readonly clientOptions: S3ClientOptions = {},
  ) {}

  for(uri: string): ModelSource {
    const loc = parseModelUri(uri);
    if (loc.kind === 'file') return new FileSource(loc);
    return new LazyS3Source(this, loc);
  }

  /** The real S3 source, loading the SDK (once) and creating the shared client (once). */
  async s3Source(loc: Extract<ModelLocation, { kind: 's3' }>): Promise<ModelSource> {
    this.s3Module ??= import('./s3.js');
    const s3 = await this.s3Module;
    this.client ??= s3.createS3Client(this.s3, this.clientOptions);
    return new s3.S3Source(this.client, loc, s3.displayEndpoint(this.s3.endpoint, this.s3.region));
  }

  /** Closes pooled connections; sources made earlier must not be used afterwards. */
  close(): void {
    this.client?.destroy();
    this.client = undefined;
  }
}
