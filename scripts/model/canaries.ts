// Computes known-answer canaries for a lock: each text's top label and score, as the
// service's own engine (the real fastText binary behind the service's framing) gives them
// for this model file. The service checks them again before and while it serves.
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { FastTextPool } from '../../app/engine/process-pool.js';
import { canaryProblems, MAX_CANARIES, type Canary } from '../../app/model/canaries.js';
import { fastTextBinary } from './fasttext-cli.js';

/** Texts of a canary file: one a line (UTF-8), blank lines and lines starting with '#' skipped. */
export async function readCanaryTexts(file: string): Promise<string[]> {
  const texts = (await readFile(file, 'utf8'))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (texts.length === 0) throw new Error(`${file}: no canary texts`);
  if (texts.length > MAX_CANARIES) throw new Error(`${file}: ${texts.length} texts; at most ${MAX_CANARIES}`);
  return texts;
}

/** Scores are rounded to this many decimals: fastText prints about five significant digits. */
const DECIMALS = 5;

export async function computeCanaries(modelPath: string, texts: readonly string[], binary = fastTextBinary()): Promise<Canary[]> {
  const engine = new FastTextPool({ binary, poolSize: 1, stallMs: 30_000, restartBaseMs: 100, restartMaxMs: 1000, maxK: 1, kTiers: [] });
  try {
    await engine.start(modelPath);
    const answers = await engine.predict(texts, 1, 0, performance.now() + 60_000);
    const canaries = texts.map((text, i): Canary => {
      const top = answers[i]?.[0];
      if (top === undefined) throw new Error(`canary text ${i} (${JSON.stringify(text.slice(0, 40))}) gets no label from this model`);
      return { text, label: top.label, score: Math.min(1, Number(top.score.toFixed(DECIMALS))) };
    });
    const problems = canaryProblems(canaries, 'canaries');
    if (problems.length > 0) throw new Error(problems.join('; '));
    return canaries;
  } finally {
    await engine.stop();
  }
}
