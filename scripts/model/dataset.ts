// A labelled dataset for supervised fastText: read (TSV `label<TAB>text` or fastText
// `__label__x text` lines), then a reproducible stratified train / held-out split.
//
// The text is kept as the service will see it: the service only turns line breaks into
// spaces before handing a text to fastText (app/engine/framing.ts), so no lower-casing or
// punctuation stripping here either; a model trained on text the service never sends
// would score well here and worse in production.

export const LABEL_PREFIX = '__label__';

export interface Example {
  /** Labels without the prefix, in file order; the first one stratifies the split. */
  readonly labels: readonly string[];
  readonly text: string;
}

export type DatasetFormat = 'tsv' | 'fasttext';

export interface Dataset {
  readonly format: DatasetFormat;
  /** 'utf-8', or 'latin1' when the bytes are not valid UTF-8 (the SMS dataset is Latin-1). */
  readonly encoding: 'utf-8' | 'latin1';
  readonly examples: readonly Example[];
  /** Lines with no text (blank, or a label alone): not examples. */
  readonly skipped: number;
}

export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

const LABEL = /^[^\s]+$/;

/** Bytes to text: UTF-8 when valid, else Latin-1, which maps every byte to a character. */
export function decode(bytes: Buffer): { text: string; encoding: 'utf-8' | 'latin1' } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8' };
  } catch {
    return { text: bytes.toString('latin1'), encoding: 'latin1' };
  }
}

/** One example per line; whitespace runs (tabs, stray carriage returns) become one space. */
function clean(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** A field wholly in double quotes is CSV-quoted: drop the quotes, undouble inner ones. */
function unquote(field: string): string {
  const f = field.trim();
  return f.length >= 2 && f.startsWith('"') && f.endsWith('"') ? f.slice(1, -1).replace(/""/g, '"') : f;
}

export function detectFormat(text: string): DatasetFormat {
  const first = text.split('\n').find((line) => line.trim() !== '');
  if (first === undefined) throw new DatasetError('the dataset is empty');
  return first.trimStart().startsWith(LABEL_PREFIX) ? 'fasttext' : 'tsv';
}

export function parseDataset(bytes: Buffer, format?: DatasetFormat): Dataset {
  const { text, encoding } = decode(bytes);
  const fmt = format ?? detectFormat(text);
  const examples: Example[] = [];
  let skipped = 0;
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    const where = `line ${index + 1}`;
    let labels: string[];
    let body: string;
    if (fmt === 'tsv') {
      const tab = line.indexOf('\t');
      if (tab < 0) throw new DatasetError(`${where}: expected "label<TAB>text", found no tab`);
      const label = line.slice(0, tab).trim();
      if (!LABEL.test(label))
        throw new DatasetError(`${where}: the label ${JSON.stringify(label)} is empty or contains spaces`);
      labels = [label.startsWith(LABEL_PREFIX) ? label.slice(LABEL_PREFIX.length) : label];
      body = clean(unquote(line.slice(tab + 1)));
    } else {
      const tokens = clean(line).split(' ');
      labels = [];
      while (tokens[0]?.startsWith(LABEL_PREFIX) === true)
        labels.push(tokens.shift()?.slice(LABEL_PREFIX.length) ?? '');
      if (labels.length === 0 || labels.includes('')) {
        throw new DatasetError(`${where}: expected "${LABEL_PREFIX}<label> text" (the fastText format)`);
      }
      body = tokens.join(' ');
    }
    if (body === '') {
      skipped += 1;
      return;
    }
    examples.push({ labels, text: body });
  });
  if (examples.length === 0) throw new DatasetError('the dataset has no labelled text');
  return { format: fmt, encoding, examples, skipped };
}

/**
 * mulberry32: a seeded PRNG, because Math.random cannot be seeded and the split must be the
 * same on every run for the reported figures to be reproducible.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = items[i] as T;
    items[i] = items[j] as T;
    items[j] = a;
  }
  return items;
}

export interface Split {
  readonly train: readonly Example[];
  readonly test: readonly Example[];
}

/**
 * Stratified by first label, so a rare class is in both parts in proportion; each class with
 * two or more examples gives at least one to the held-out part. The training part is
 * shuffled: fastText's SGD fed a file sorted by label learns mostly the last class.
 */
export function splitDataset(examples: readonly Example[], testRatio: number, seed: number): Split {
  if (!(testRatio > 0 && testRatio < 1))
    throw new DatasetError(`the test ratio must be between 0 and 1, got ${testRatio}`);
  const random = seededRandom(seed);
  const byLabel = new Map<string, Example[]>();
  for (const example of examples) {
    const key = example.labels[0] ?? '';
    const group = byLabel.get(key);
    if (group === undefined) byLabel.set(key, [example]);
    else group.push(example);
  }
  const train: Example[] = [];
  const test: Example[] = [];
  for (const key of [...byLabel.keys()].sort()) {
    const group = shuffle([...(byLabel.get(key) ?? [])], random);
    const held = group.length < 2 ? 0 : Math.max(1, Math.round(group.length * testRatio));
    test.push(...group.slice(0, held));
    train.push(...group.slice(held));
  }
  if (test.length === 0) throw new DatasetError('the held-out part is empty: the dataset is too small to split');
  return { train: shuffle(train, random), test };
}

/** The fastText training format: `__label__a __label__b text`. */
export function toFastTextLine(example: Example): string {
  return `${example.labels.map((l) => LABEL_PREFIX + l).join(' ')} ${example.text}\n`;
}

export function labelCounts(examples: readonly Example[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of examples) for (const l of e.labels) counts[l] = (counts[l] ?? 0) + 1;
  return counts;
}
