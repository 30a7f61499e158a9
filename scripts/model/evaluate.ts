// Scores a trained model on held-out examples: fastText predicts the top label of every
// text (the same `predict` the service's answers come from), and each label gets its
// precision, recall and F1; `fasttext test`'s P@1 / R@1 are kept as a cross-check.
import { writeFile } from 'node:fs/promises';
import { LABEL_PREFIX, type Example } from './dataset.js';
import { FastTextError, runFastText } from './fasttext-cli.js';

export interface LabelScore {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Held-out examples that carry this label. */
  readonly support: number;
  /** Held-out examples predicted as this label. */
  readonly predicted: number;
}

export interface Evaluation {
  readonly examples: number;
  /** Share of examples whose top prediction is one of their labels (fastText's P@1). */
  readonly accuracy: number;
  readonly labels: Readonly<Record<string, LabelScore>>;
  /** `fasttext test` on the same file. */
  readonly fastText: { readonly precisionAt1: number; readonly recallAt1: number };
}

/** Per-label scores of top-1 predictions; undefined means fastText predicted nothing. */
export function score(
  examples: readonly Example[],
  predictions: readonly (string | undefined)[],
): Omit<Evaluation, 'fastText'> {
  if (examples.length !== predictions.length) {
    throw new Error(`${predictions.length} predictions for ${examples.length} examples`);
  }
  const tp = new Map<string, number>();
  const fp = new Map<string, number>();
  const support = new Map<string, number>();
  const add = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);
  let correct = 0;
  examples.forEach((example, i) => {
    const predicted = predictions[i];
    for (const label of example.labels) {
      add(support, label);
      tp.set(label, tp.get(label) ?? 0);
      fp.set(label, fp.get(label) ?? 0);
    }
    if (predicted === undefined) return;
    if (example.labels.includes(predicted)) {
      add(tp, predicted);
      correct += 1;
    } else {
      add(fp, predicted);
      tp.set(predicted, tp.get(predicted) ?? 0);
    }
  });
  const labels: Record<string, LabelScore> = {};
  for (const label of [...tp.keys()].sort()) {
    const t = tp.get(label) ?? 0;
    const predicted = t + (fp.get(label) ?? 0);
    const s = support.get(label) ?? 0;
    const precision = predicted === 0 ? 0 : t / predicted;
    const recall = s === 0 ? 0 : t / s;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    labels[label] = { precision, recall, f1, support: s, predicted };
  }
  return { examples: examples.length, accuracy: correct / examples.length, labels };
}

function parseTestOutput(stdout: string): { precisionAt1: number; recallAt1: number } {
  const value = (key: string): number => {
    const m = new RegExp(`^${key}\\s+([\\d.]+|-?nan)\\s*$`, 'm').exec(stdout);
    if (m === null)
      throw new FastTextError(`fasttext test: no ${key} in its output: ${JSON.stringify(stdout.slice(0, 200))}`);
    return Number(m[1]);
  };
  return { precisionAt1: value('P@1'), recallAt1: value('R@1') };
}

/**
 * Evaluates `model` on `examples`. Writes two files next to `workPrefix`: the labelled
 * examples (for `fasttext test`) and the bare texts (for `fasttext predict`).
 */
export async function evaluate(
  model: string,
  examples: readonly Example[],
  workPrefix: string,
  timeoutMs: number,
): Promise<Evaluation> {
  const labelled = `${workPrefix}.test.txt`;
  const texts = `${workPrefix}.texts.txt`;
  await writeFile(
    labelled,
    examples.map((e) => `${e.labels.map((l) => LABEL_PREFIX + l).join(' ')} ${e.text}\n`).join(''),
  );
  await writeFile(texts, examples.map((e) => `${e.text}\n`).join(''));
  const predicted = await runFastText(['predict', model, texts, '1'], { timeoutMs });
  const lines = predicted.stdout.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const predictions = lines.map((line) => {
    const label = line.trim().split(/\s+/)[0] ?? '';
    return label.startsWith(LABEL_PREFIX) ? label.slice(LABEL_PREFIX.length) : undefined;
  });
  const tested = await runFastText(['test', model, labelled, '1'], { timeoutMs });
  return { ...score(examples, predictions), fastText: parseTestOutput(tested.stdout) };
}
