// What an S3 key holds, from one HEAD: its size and the checksums model:publish stored as
// object metadata (x-amz-meta-md5, x-amz-meta-sha256), compared with what a lock or a values
// file expects. The ETag is no MD5 for multipart or SSE-KMS objects, so it is never used.
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { classifyS3Error } from '../../app/model/s3.js';

export interface StoredObject {
  readonly bytes: number;
  /** From x-amz-meta-md5 / x-amz-meta-sha256: undefined when the object carries none. */
  readonly md5: string | undefined;
  readonly sha256: string | undefined;
}

export interface ExpectedObject {
  readonly bytes?: number | undefined;
  readonly md5: string;
  readonly sha256?: string | undefined;
}

interface SdkLikeError {
  readonly name?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

const HEX = /^[0-9a-f]+$/;
const clean = (value: string | undefined, length: number): string | undefined => {
  const v = value?.trim().toLowerCase();
  return v !== undefined && v.length === length && HEX.test(v) ? v : undefined;
};

/** HEAD s3://bucket/key: the object, or undefined when the key does not exist. */
export async function headStored(
  client: S3Client,
  bucket: string,
  key: string,
  where: string,
): Promise<StoredObject | undefined> {
  try {
    const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const meta = out.Metadata ?? {};
    return { bytes: out.ContentLength ?? -1, md5: clean(meta.md5, 32), sha256: clean(meta.sha256, 64) };
  } catch (err) {
    const e = (typeof err === 'object' && err !== null ? err : {}) as SdkLikeError;
    if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) {
      // A missing bucket is an error of its own, not an absent key: HEAD cannot tell them
      // apart (no body), so the caller's next request (PUT) names it.
      return undefined;
    }
    throw classifyS3Error(err, 'HEAD', `s3://${bucket}/${key}`, where);
  }
}

/**
 * The differences between what is stored and what is expected, one phrase each ("md5:
 * stored X, expected Y"); empty when they agree. A checksum the object does not carry is a
 * difference too ("stored none"): what cannot be checked is not called verified.
 */
export function differences(stored: StoredObject, expected: ExpectedObject): string[] {
  const out: string[] = [];
  if (expected.bytes !== undefined && stored.bytes !== expected.bytes)
    out.push(`bytes: stored ${stored.bytes}, expected ${expected.bytes}`);
  if (stored.md5 !== expected.md5)
    out.push(`md5: stored ${stored.md5 ?? 'none (no x-amz-meta-md5)'}, expected ${expected.md5}`);
  if (expected.sha256 !== undefined && stored.sha256 !== expected.sha256) {
    out.push(`sha256: stored ${stored.sha256 ?? 'none (no x-amz-meta-sha256)'}, expected ${expected.sha256}`);
  }
  return out;
}

/** "N bytes, md5 X, sha256 Y" for messages. */
export function describe(o: {
  bytes?: number | undefined;
  md5?: string | undefined;
  sha256?: string | undefined;
}): string {
  return [
    ...(o.bytes === undefined ? [] : [`${o.bytes} bytes`]),
    `md5 ${o.md5 ?? 'unknown'}`,
    ...(o.sha256 === undefined ? [] : [`sha256 ${o.sha256}`]),
  ].join(', ');
}
