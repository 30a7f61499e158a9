// MD5, SHA-256 and size of a local file in one streamed pass: a model may be larger than memory.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

export interface FileDigest {
  readonly md5: string;
  readonly sha256: string;
  readonly bytes: number;
}

/** Hashes a byte stream (a file, or an object read back from S3). */
export async function digestStream(
  stream: Readable | AsyncIterable<unknown>,
  onBytes?: (bytes: number) => void,
): Promise<FileDigest> {
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    md5.update(b);
    sha256.update(b);
    bytes += b.length;
    onBytes?.(bytes);
  }
  return { md5: md5.digest('hex'), sha256: sha256.digest('hex'), bytes };
}

export function digestFile(file: string): Promise<FileDigest> {
  return digestStream(createReadStream(file));
}
