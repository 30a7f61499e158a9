// Canaries for a lock: texts whose top label and score the model itself gives, recorded at
// lock/publish time through the service's own engine (the fastText binary it runs, behind the
// same framing), so that a pod can later prove the model it loaded answers as the published
// one did, and a canary can never disagree with the service only because of how it was sent.
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { FastTextPool } from '../../app/engine/process-pool.js';
import type { ModelCanary } from '../../app/model/types.js';
import { FastTextError, fastTextBinary } from './fasttext-cli.js';

/** Every canary is a call on every ready tier at every run: keep the list short. */
const MAX_CANARIES = 32;
/** Scores are rounded to this many decimals: fastText prints about five significant digits. */
const DECIMALS = 5;

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

export async function recordCanaries(
  model: string,
  texts: readonly string[],
  timeoutMs = 60_000,
  binary = fastTextBinary(),
): Promise<ModelCanary[]> {
  if (texts.length === 0) return [];
  // A text without tokens gets no label from the service (it answers [] for it): no canary can be made of it.
  const blank = texts.find((t) => t.trim() === '');
  if (blank !== undefined)
    throw new FastTextError(`canary ${JSON.stringify(blank)}: a text without words cannot be a canary`);
  const engine = new FastTextPool({
    binary,
    poolSize: 1,
    stallMs: timeoutMs,
    restartBaseMs: 100,
    restartMaxMs: 1000,
    maxK: 1,
    kTiers: [],
    warmTiers: false,
  });
  try {
    await engine.start(model);
    const answers = await engine.predict(texts, 1, 0, performance.now() + timeoutMs);
    return texts.map((text, i) => {
      const top = answers[i]?.[0];
      if (top === undefined)
        throw new FastTextError(
          `canary ${JSON.stringify(text)}: the model gives no label for it (a text with no known token); pick another text`,
        );
      // fastText prints exp(log(p + 1e-5)): a certain answer reads 1.00001. A probability is at
      // most 1 (the chart's schema says so too).
      return { text, label: top.label, score: Math.min(1, Number(top.score.toFixed(DECIMALS))) };
    });
  } finally {
    await engine.stop();
  }
}
