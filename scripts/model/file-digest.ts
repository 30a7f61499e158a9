// MD5 and size of a local file, streamed: a model may be larger than memory.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface FileDigest {
  readonly md5: string;
  readonly bytes: number;
}

export async function digestFile(file: string): Promise<FileDigest> {
  const hash = createHash('md5');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    const b = chunk as Buffer;
    hash.update(b);
    bytes += b.length;
  }
  return { md5: hash.digest('hex'), bytes };
}
