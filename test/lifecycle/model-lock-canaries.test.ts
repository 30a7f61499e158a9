// `npm run model:lock -- <uri> --canaries FILE`: the real script, the real binary and the
// bundled model; what it writes is what the service then checks (the bundled lock was
// written this way).
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseLock } from '../../app/model/lock.js';
import { BUNDLED_MODEL, ROOT } from '../helpers/service.js';
import { runScript } from '../scripts/run-script.js';

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fte-lockcanary-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('--canaries FILE writes each text with the label and score the binary gives; the bundled lock matches a fresh run', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'model.lock.json');
  const run = await runScript(
    'model-lock.ts',
    [
      BUNDLED_MODEL,
      '--out',
      out,
      '--name',
      'lid176',
      '--canaries',
      path.join(ROOT, 'scripts', 'model', 'lid176-canaries.txt'),
    ],
    { timeoutMs: 60_000 },
  );
  t.is(run.code, 0, run.stderr);
  const lock = parseLock(JSON.parse(readFileSync(out, 'utf8')), out);
  const bundled = parseLock(
    JSON.parse(readFileSync(path.join(ROOT, 'model.lock.json'), 'utf8')),
    path.join(ROOT, 'model.lock.json'),
  );
  t.deepEqual(lock.canaries, bundled.canaries, 'the bundled canaries are what the binary gives today');
  t.deepEqual(
    lock.canaries?.map((c) => c.label),
    ['en', 'fr', 'de', 'es', 'ru', 'ja'],
  );
});

test('--canaries with a file of no texts, or a missing file, writes nothing and says why', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'model.lock.json');
  const empty = path.join(dir, 'empty.txt');
  writeFileSync(empty, '# only a comment\n\n');
  const run = await runScript('model-lock.ts', [BUNDLED_MODEL, '--out', out, '--canaries', empty], {
    timeoutMs: 60_000,
  });
  t.not(run.code, 0);
  t.regex(run.stderr, /no canary texts/);
  const missing = await runScript(
    'model-lock.ts',
    [BUNDLED_MODEL, '--out', out, '--canaries', path.join(dir, 'nope.txt')],
    { timeoutMs: 60_000 },
  );
  t.not(missing.code, 0);
  t.regex(missing.stderr, /ENOENT|no such file/);
  t.throws(() => readFileSync(out));
});
