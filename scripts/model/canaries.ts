// Canaries for a lock: texts whose top label and score the model itself gives, recorded at
// publish time with the same fastText binary the service runs (`predict-prob`), so that a
// pod can later prove the model it loaded answers as the published one did.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ModelCanary } from '../../app/model/types.js';
import { FastTextError, runFastText } from './fasttext-cli.js';

const LABEL = '__label__';

export async function recordCanaries(model: string, texts: readonly string[], timeoutMs = 60_000): Promise<ModelCanary[]> {
  if (texts.length === 0) return [];
  // A text without tokens gets fastText's answer for the end-of-line token alone, which the
  // service never gives (it answers [] for it): no canary can be made of it.
  const blank = texts.find((t) => t.trim() === '');
  if (blank !== undefined) throw new FastTextError(`canary ${JSON.stringify(blank)}: a text without words cannot be a canary`);
  // fastText reads one example a line: a text's own line breaks would split it in two.
  const lines = texts.map((t) => t.replace(/[\r\n]+/g, ' '));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'canaries-'));
  try {
    const input = path.join(dir, 'texts.txt');
    await writeFile(input, `${lines.join('\n')}\n`);
    const { stdout } = await runFastText(['predict-prob', model, input, '1'], { timeoutMs });
    const answers = stdout.split('\n').slice(0, lines.length);
    return texts.map((text, i) => {
      const [label, score] = (answers[i] ?? '').trim().split(/\s+/);
      if (label === undefined || !label.startsWith(LABEL) || score === undefined || !Number.isFinite(Number(score))) {
        throw new FastTextError(`canary ${JSON.stringify(text)}: the model gives no label for it (a text with no known token); pick another text`);
      }
      // fastText prints exp(log(p + 1e-5)): a certain answer reads 1.00001. A probability is at
      // most 1 (the chart's schema says so too).
      return { text, label: label.slice(LABEL.length), score: Math.min(1, Number(score)) };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
