// The label list read from the model file in JS, differential against the binary's own
// `fasttext dump <model> dict`, on the bundled model and on models trained here (.bin and a
// quantized .ftz); and broken files refused with a reason, never a hang.
import test from 'ava';
import { execFile } from 'node:child_process';
import fc from 'fast-check';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ModelHeaderError, readModelHeader } from '../../app/engine/model-header.js';
import { BINARY, MODEL, synthesizeModel } from './helpers.js';

const execFileAsync = promisify(execFile);
let dir = '';
test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'engine-header-'));
});
test.after.always(() => rm(dir, { recursive: true, force: true }));

async function dumpLabels(model: string): Promise<string[]> {
  const { stdout } = await execFileAsync(BINARY, ['dump', model, 'dict'], { maxBuffer: 256 * 1024 * 1024 });
  return stdout
    .split('\n')
    .filter((line) => line.endsWith(' label'))
    .map((line) => (line.split(' ')[0] ?? '').replace(/^__label__/, ''));
}

test('lid.176.ftz: the same 176 labels, in the same order, as fasttext dump', async (t) => {
  const header = await readModelHeader(MODEL);
  t.deepEqual(header.labels, await dumpLabels(MODEL));
  t.is(header.labels.length, 176);
  t.is(header.version, 12);
  t.is(header.dim, 16);
  t.deepEqual([header.minn, header.maxn, header.bucket], [2, 4, 2_000_000]);
});

test('a model trained here, .bin and quantized .ftz: the same labels as fasttext dump', async (t) => {
  const bin = await synthesizeModel(dir, 20_000, 8);
  const prefix = bin.replace(/\.bin$/, '');
  await execFileAsync(
    BINARY,
    [
      'quantize',
      '-output',
      prefix,
      '-input',
      path.join(dir, 'sms.txt'),
      '-cutoff',
      '1000',
      '-retrain',
      '-epoch',
      '1',
      '-thread',
      '1',
      '-verbose',
      '0',
    ],
    { timeout: 60_000 },
  );
  for (const model of [bin, `${prefix}.ftz`]) {
    const header = await readModelHeader(model);
    t.deepEqual(header.labels, await dumpLabels(model), model);
    t.deepEqual([...header.labels].sort(), ['ham', 'spam']);
  }
});

test('not a model, or cut anywhere in its dictionary: refused with a reason', async (t) => {
  const garbage = path.join(dir, 'garbage.bin');
  await writeFile(garbage, Buffer.from('this is not a fastText model at all'));
  await t.throwsAsync(readModelHeader(garbage), { instanceOf: ModelHeaderError, message: /wrong file format/ });
  await t.throwsAsync(readModelHeader(path.join(dir, 'missing.bin')), {
    instanceOf: ModelHeaderError,
    message: /cannot read model/,
  });

  const whole = await readFile(MODEL);
  // Where the dictionary ends: after the last label entry (found by the reader's own count).
  const lastLabel = Buffer.from('__label__' + ((await readModelHeader(MODEL)).labels.at(-1) ?? ''));
  const dictEnd = whole.indexOf(lastLabel) + lastLabel.length + 1 + 9;
  const cut = path.join(dir, 'cut.ftz');
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: dictEnd - 1 }), async (at) => {
      await writeFile(cut, whole.subarray(0, at));
      await t.throwsAsync(readModelHeader(cut), { instanceOf: ModelHeaderError });
    }),
    { numRuns: 60 },
  );
  // Cut after the dictionary, the labels are all there (the binary's load is what fails).
  await writeFile(cut, whole.subarray(0, dictEnd));
  t.is((await readModelHeader(cut)).labels.length, 176);
});
