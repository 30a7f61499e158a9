// The label list read from the model file itself, in JS: the header and the dictionary at
// the start of a fastText model (.bin or .ftz, format version <= 12), without spawning
// `fasttext dump`, which loads the whole model (one more full load competing with the
// children at start). Layout, little-endian: int32 magic 793712314, int32 version; the
// arguments (12 int32 then a float64); then the dictionary: int32 size, int32 nwords,
// int32 nlabels, int64 ntokens, int64 pruneidx_size, and `size` entries of a NUL-ended
// word, an int64 count and an int8 type (0 word, 1 label), words first. Only the
// dictionary is read; the matrices behind it are not touched.
import { open, type FileHandle } from 'node:fs/promises';
import { stripLabelPrefix } from './framing.js';

const MAGIC = 793712314;
const MAX_VERSION = 12;
const ARGS_BYTES = 12 * 4 + 8;
const CHUNK = 1 << 20;

export class ModelHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelHeaderError';
  }
}

export interface ModelHeader {
  readonly version: number;
  readonly dim: number;
  readonly minn: number;
  readonly maxn: number;
  readonly bucket: number;
  readonly words: number;
  /** Labels in the model's order, without the `__label__` prefix. */
  readonly labels: readonly string[];
}

/** Sequential reads over a file handle, a chunk at a time. */
class Reader {
  private buf = Buffer.alloc(0);
  private pos = 0;
  private offset = 0;
  private eof = false;

  constructor(
    private readonly file: FileHandle,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Makes `n` bytes available at pos, or fails at the end of the file. */
  async need(n: number, what: string): Promise<void> {
    while (this.buf.length - this.pos < n) {
      if (this.eof) throw new ModelHeaderError(`the model file ends inside ${what}`);
      await this.more();
    }
  }

  private async more(): Promise<void> {
    if (this.signal?.aborted) throw new ModelHeaderError('label read aborted');
    const chunk = Buffer.alloc(CHUNK);
    const { bytesRead } = await this.file.read(chunk, 0, CHUNK, this.offset);
    this.offset += bytesRead;
    if (bytesRead === 0) this.eof = true;
    this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk.subarray(0, bytesRead)]);
    this.pos = 0;
  }

  async int32(what: string): Promise<number> {
    await this.need(4, what);
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  async skip(n: number, what: string): Promise<void> {
    await this.need(n, what);
    this.pos += n;
  }

  /**
   * One dictionary entry: a NUL-ended word (UTF-8, as fastText stores it), an int64 count
   * and an int8 type. Parsed synchronously while the buffer holds it (the common case, so a
   * vocabulary of millions of words costs no await per entry).
   */
  entryNow(): { word: string; type: number } | undefined {
    const nul = this.buf.indexOf(0, this.pos);
    if (nul === -1 || nul + 10 > this.buf.length) return undefined;
    const word = this.buf.toString('utf8', this.pos, nul);
    const type = this.buf.readInt8(nul + 9);
    this.pos = nul + 10;
    return { word, type };
  }

  async entry(): Promise<{ word: string; type: number }> {
    for (;;) {
      const e = this.entryNow();
      if (e !== undefined) return e;
      if (this.eof) throw new ModelHeaderError('the model file ends inside a dictionary entry');
      await this.more();
    }
  }
}

export async function readModelHeader(modelPath: string, signal?: AbortSignal): Promise<ModelHeader> {
  let file: FileHandle;
  try {
    file = await open(modelPath, 'r');
  } catch (err) {
    throw new ModelHeaderError(`cannot read model ${modelPath}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    const r = new Reader(file, signal);
    const magic = await r.int32('the header');
    const version = await r.int32('the header');
    if (magic !== MAGIC || version > MAX_VERSION || version < 1)
      throw new ModelHeaderError(
        `${modelPath} has wrong file format (not a fastText model of version <= ${MAX_VERSION})`,
      );
    const args: number[] = [];
    for (let i = 0; i < 12; i++) args.push(await r.int32('the arguments'));
    await r.skip(ARGS_BYTES - 48, 'the arguments');
    const size = await r.int32('the dictionary');
    const words = await r.int32('the dictionary');
    const nlabels = await r.int32('the dictionary');
    if (!(size >= 0 && words >= 0 && nlabels >= 0 && words + nlabels === size))
      throw new ModelHeaderError(
        `${modelPath} has an inconsistent dictionary (size ${size}, words ${words}, labels ${nlabels})`,
      );
    await r.skip(16, 'the dictionary'); // ntokens, pruneidx_size
    const labels: string[] = [];
    for (let i = 0; i < size; i++) {
      const { word, type } = r.entryNow() ?? (await r.entry());
      if (type === 1) labels.push(stripLabelPrefix(word));
      else if (type !== 0) throw new ModelHeaderError(`${modelPath} has a dictionary entry of unknown type ${type}`);
    }
    if (labels.length !== nlabels)
      throw new ModelHeaderError(`${modelPath} lists ${labels.length} labels, its header says ${nlabels}`);
    if (labels.length === 0) throw new ModelHeaderError(`${modelPath} has no labels: not a supervised fastText model`);
    const [dim = 0, , , , , , , , bucket = 0, minn = 0, maxn = 0] = args;
    return { version, dim, minn, maxn, bucket, words, labels };
  } finally {
    await file.close();
  }
}
