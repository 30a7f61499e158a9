// The pre-deploy check shared by release:verify and release:values --verify: one HEAD of the
// object a release names, its size and stored checksums (x-amz-meta-md5 / -sha256, written
// by model:publish) compared with the release's values. A mismatch is found here, before
// any pod starts, instead of as pods stuck not-ready with md5_mismatch.
import type { S3Settings } from '../../app/model/source.js';
import { createS3Client } from '../../app/model/s3.js';
import { parseModelUri } from '../../app/model/uri.js';
import { describe, differences, headStored, type ExpectedObject, type StoredObject } from './stored-object.js';

export class ReleaseMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReleaseMismatchError';
  }
}

export interface VerifiedRelease {
  readonly uri: string;
  readonly stored: StoredObject;
}

/** HEADs `uri` and throws ReleaseMismatchError naming both sides unless it matches `expected`. */
export async function verifyRelease(s3: S3Settings, uri: string, expected: ExpectedObject): Promise<VerifiedRelease> {
  const loc = parseModelUri(uri);
  if (loc.kind !== 's3') throw new ReleaseMismatchError(`${uri}: only an s3:// model can be verified before a deploy`);
  const where = s3.endpoint === undefined ? `AWS S3 (${s3.region})` : new URL(s3.endpoint).origin;
  const client = createS3Client(s3, { maxAttempts: 3, idleTimeoutMs: 30_000 });
  try {
    const stored = await headStored(client, loc.bucket, loc.key, where);
    if (stored === undefined)
      throw new ReleaseMismatchError(`${uri}: no such object (HTTP 404): publish it first (npm run model:publish)`);
    const diff = differences(stored, expected);
    if (diff.length > 0) {
      throw new ReleaseMismatchError(
        `${uri} does not match the release: ${diff.join('; ')}. The object holds ${describe(stored)}; the release expects ${describe(expected)}. ` +
          'Pods would stay not ready (md5_mismatch): regenerate the values from the lock model:publish wrote for this key',
      );
    }
    return { uri, stored };
  } finally {
    client.destroy();
  }
}
