// Uploads a local file to S3 with an end-to-end MD5 check: one PutObject up to the part
// size, a multipart upload above it. Every request carries Content-MD5, so S3 itself refuses
// bytes that changed on the way; the file is hashed again as it is read, so a file changed
// during the upload fails it too. Parts go one at a time: a model upload is bounded by the
// link, not by request latency, and one part in memory keeps the footprint fixed.
// With `ifAbsent`, the write is conditional (If-None-Match: *, on PutObject and on
// CompleteMultipartUpload): S3 refuses it with 412 when the key already exists, so two
// publishers racing for one key cannot overwrite each other. Stores that do not support the
// header either ignore it (s3rver) or answer 501; on 501 the write is retried without it, and
// the caller's HEAD check before the upload is then the only guard.
// (@aws-sdk/lib-storage would parallelise parts, but it is not a dependency and does not
// send per-part Content-MD5.)
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';

export const MiB = 1024 * 1024;
/** S3's limits: every part but the last at least 5 MiB, at most 10,000 parts. */
export const MIN_PART_SIZE = 5 * MiB;
const MAX_PARTS = 10_000;

export class UploadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UploadError';
  }
}

/** The key already holds an object: a conditional write (If-None-Match: *) was refused. */
export class KeyExistsError extends UploadError {
  constructor(message: string) {
    super(message);
    this.name = 'KeyExistsError';
  }
}

export interface UploadRequest {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly file: string;
  /** Size and MD5 (hex) of the file, computed beforehand. */
  readonly bytes: number;
  readonly md5: string;
  readonly sha256: string;
  /** Write only if the key does not exist yet (If-None-Match: *). */
  readonly ifAbsent: boolean;
  /** Files above this go multipart, in parts of this size (raised to fit 10,000 parts). */
  readonly partSize: number;
  readonly onProgress?: (bytesDone: number) => void;
}

export interface UploadResult {
  readonly multipart: boolean;
  readonly parts: number;
  /** Whether the store enforced the conditional write (false when it answered 501 to it). */
  readonly conditional: boolean;
}

interface SdkLikeError {
  readonly name?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}
const status = (err: unknown): number | undefined => (err as SdkLikeError | undefined)?.$metadata?.httpStatusCode;

/**
 * Runs a write with If-None-Match: * when asked; a 412 (or 409 ConditionalRequestConflict,
 * a concurrent conditional write) becomes KeyExistsError; a 501 runs it once more without.
 */
async function conditionally<T>(
  req: UploadRequest,
  write: (ifNoneMatch: string | undefined) => Promise<T>,
): Promise<{ out: T; conditional: boolean }> {
  if (!req.ifAbsent) return { out: await write(undefined), conditional: false };
  try {
    return { out: await write('*'), conditional: true };
  } catch (err) {
    const code = status(err);
    if (code === 412 || code === 409) {
      throw new KeyExistsError(
        `s3://${req.bucket}/${req.key}: the key was written by someone else during this upload (HTTP ${code} to If-None-Match: *)`,
      );
    }
    if (code === 501) return { out: await write(undefined), conditional: false };
    throw err;
  }
}

const base64Md5 = (data: Buffer): string => createHash('md5').update(data).digest('base64');
const hexToBase64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');

/** Hashes and counts what flows through, for the after-the-fact "file unchanged" check. */
class Tap extends Transform {
  readonly hash = createHash('md5');
  bytes = 0;
  constructor(private readonly onProgress: ((bytesDone: number) => void) | undefined) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onProgress?.(this.bytes);
    done(null, chunk);
  }
}

function unchanged(req: UploadRequest, md5: string, bytes: number): void {
  if (md5 !== req.md5 || bytes !== req.bytes) {
    throw new UploadError(
      `${req.file} changed during the upload (${bytes} bytes, md5 ${md5}; expected ${req.bytes}, ${req.md5})`,
    );
  }
}

export function effectivePartSize(bytes: number, partSize: number): number {
  return Math.max(MIN_PART_SIZE, partSize, Math.ceil(bytes / MAX_PARTS));
}

export async function uploadFile(req: UploadRequest): Promise<UploadResult> {
  const partSize = effectivePartSize(req.bytes, req.partSize);
  // Stored as x-amz-meta-md5 / x-amz-meta-sha256: release:verify compares them with a
  // release's values from one HEAD, without downloading the model.
  const metadata = { md5: req.md5, sha256: req.sha256 };
  if (req.bytes <= partSize) {
    let tap = new Tap(req.onProgress);
    const { conditional } = await conditionally(req, (ifNoneMatch) => {
      tap = new Tap(req.onProgress);
      const body = createReadStream(req.file).pipe(tap);
      return req.client.send(
        new PutObjectCommand({
          Bucket: req.bucket,
          Key: req.key,
          Body: body,
          ContentLength: req.bytes,
          ContentMD5: hexToBase64(req.md5),
          ContentType: 'application/octet-stream',
          Metadata: metadata,
          IfNoneMatch: ifNoneMatch,
        }),
      );
    });
    unchanged(req, tap.hash.digest('hex'), tap.bytes);
    return { multipart: false, parts: 1, conditional };
  }

  const created = await req.client.send(
    new CreateMultipartUploadCommand({
      Bucket: req.bucket,
      Key: req.key,
      ContentType: 'application/octet-stream',
      Metadata: metadata,
    }),
  );
  const uploadId = created.UploadId;
  if (uploadId === undefined)
    throw new UploadError(`CreateMultipartUpload s3://${req.bucket}/${req.key}: no UploadId in the answer`);
  const handle = await open(req.file, 'r');
  try {
    const whole = createHash('md5');
    const parts: CompletedPart[] = [];
    const buffer = Buffer.alloc(partSize);
    let offset = 0;
    for (let partNumber = 1; offset < req.bytes; partNumber++) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(partSize, req.bytes - offset), offset);
      if (bytesRead === 0) break;
      const part = buffer.subarray(0, bytesRead);
      whole.update(part);
      const out = await req.client.send(
        new UploadPartCommand({
          Bucket: req.bucket,
          Key: req.key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: part,
          ContentLength: bytesRead,
          ContentMD5: base64Md5(part),
        }),
      );
      if (out.ETag === undefined) throw new UploadError(`UploadPart ${partNumber}: no ETag in the answer`);
      parts.push({ PartNumber: partNumber, ETag: out.ETag });
      offset += bytesRead;
      req.onProgress?.(offset);
    }
    unchanged(req, whole.digest('hex'), offset);
    const { conditional } = await conditionally(req, (ifNoneMatch) =>
      req.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: req.bucket,
          Key: req.key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          IfNoneMatch: ifNoneMatch,
        }),
      ),
    );
    return { multipart: true, parts: parts.length, conditional };
  } catch (err) {
    // Uploaded parts are stored (and billed) until the upload is completed or aborted.
    await req.client
      .send(new AbortMultipartUploadCommand({ Bucket: req.bucket, Key: req.key, UploadId: uploadId }))
      .catch(() => undefined);
    throw err;
  } finally {
    await handle.close();
  }
}
