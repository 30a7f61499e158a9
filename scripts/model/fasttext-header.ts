// Recognises a fastText model file by its header (int32 magic 793712314, then the format
// version, little-endian; both .bin and .ftz), so that publishing a dataset, a log or a
// truncated download by mistake fails before anything reaches the bucket.
import { open } from 'node:fs/promises';

const MAGIC = 793712314;
/** The versions this fastText binary reads (fastText 0.9.x writes 12; older files 11). */
const VERSIONS = new Set([11, 12]);

export class NotAModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotAModelError';
  }
}

export async function checkFastTextHeader(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const header = Buffer.alloc(8);
    const { bytesRead } = await handle.read(header, 0, 8, 0);
    if (bytesRead < 8 || header.readInt32LE(0) !== MAGIC) {
      throw new NotAModelError(
        `${file} is not a fastText model (no fastText header; expected a .bin or .ftz written by fasttext)`,
      );
    }
    const version = header.readInt32LE(4);
    if (!VERSIONS.has(version))
      throw new NotAModelError(
        `${file}: fastText model format version ${version} is not one this service's fastText reads (11, 12)`,
      );
  } finally {
    await handle.close();
  }
}
