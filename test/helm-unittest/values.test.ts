import test from 'ava';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildSetValue, parseSetPath, SetPathError } from '../../scripts/helm-unittest/set-path.js';
import { mergeTables, scopeToChartRoute, userValues } from '../../scripts/helm-unittest/values.js';

test('set paths: keys, indexes and bracketed dotted keys', (t) => {
  t.deepEqual(parseSetPath('a.b.c'), ['a', 'b', 'c']);
  t.deepEqual(parseSetPath('ingress.hosts[1]'), ['ingress', 'hosts', 1]);
  t.deepEqual(parseSetPath('a[0][2].b'), ['a', 0, 2, 'b']);
  t.deepEqual(parseSetPath('metadata.[helm.sh/hook]'), ['metadata', 'helm.sh/hook']);
  t.deepEqual(parseSetPath('[a.b].c'), ['a.b', 'c']);
});

test('set paths: malformed ones are refused', (t) => {
  for (const bad of ['', 'a,b', 'a=b', 'a[x]', 'a[1', 'a{b}'])
    t.throws(() => parseSetPath(bad), { instanceOf: SetPathError }, bad);
});

test('an index builds a fresh list of nulls with the value in place', (t) => {
  t.deepEqual(buildSetValue('ingress.hosts[1]', 'x'), { ingress: { hosts: [null, 'x'] } });
  t.deepEqual(buildSetValue('a[0].b', 1n), { a: [{ b: 1n }] });
});

test('MergeTables: the newer layer wins, maps merge, lists are replaced, nulls are kept', (t) => {
  const older = { a: { x: 1n, y: 2n }, list: [1n, 2n, 3n], keep: 'old', gone: 'x' };
  const newer = { a: { y: 3n }, list: [9n], gone: null };
  t.deepEqual(mergeTables(newer, older), { a: { y: 3n, x: 1n }, list: [9n], gone: null, keep: 'old' });
});

test('subchart suites write values under the subchart name, global stays global', (t) => {
  t.deepEqual(scopeToChartRoute('parent', { a: 1n }), { a: 1n });
  t.deepEqual(scopeToChartRoute('parent/charts/sub', { a: 1n, global: { g: true } }), {
    sub: { a: 1n, global: { g: true } },
    global: { g: true },
  });
});

test('merge order: suite values, -v files, test values, suite set, test set; files relative to the suite', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hu-values-'));
  try {
    await mkdir(path.join(dir, 'tests', 'values'), { recursive: true });
    await writeFile(
      path.join(dir, 'tests', 'values', 'suite.yaml'),
      'order: [suite]\nsuite: true\nwho: suite\nhosts: [a, b, c]\n',
    );
    await writeFile(path.join(dir, 'cli.yaml'), 'who: cli\ncli: true\n');
    await writeFile(path.join(dir, 'tests', 'test.yaml'), 'who: test-file\ntestFile: true\n');
    const values = await userValues({
      files: ['values/suite.yaml', path.join(dir, 'cli.yaml'), 'test.yaml'],
      sets: [
        { who: 'suite-set', 'nested.hosts[1]': 'x' },
        { who: 'test-set', 'hosts[1]': 'y', dropped: null },
      ],
      suiteDir: path.join(dir, 'tests'),
      chartRoute: 'chart',
    });
    t.deepEqual(values, {
      who: 'test-set',
      hosts: [null, 'y'],
      dropped: null,
      nested: { hosts: [null, 'x'] },
      order: ['suite'],
      suite: true,
      cli: true,
      testFile: true,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a missing values file is an error naming it', async (t) => {
  await t.throwsAsync(userValues({ files: ['nope.yaml'], sets: [], suiteDir: tmpdir(), chartRoute: 'c' }), {
    message: /nope\.yaml/,
  });
});
