// scripts/image-lock.ts, the Dockerfile's lock step: build arguments become the image's lock,
// validated as the service reads it; half a set of arguments fails the build.
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { projectRoot } from '../../app/config.js';
import { readLockFile } from '../../app/model/lock.js';
import { runScript } from './run-script.js';

const DEADLINE_MS = 20_000;
const MD5 = 'aabac1f5e54bcef1842e4ef4f9d76402';

let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'image-lock-test-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function committedLockCopy(name: string): Promise<string> {
  const file = path.join(dir, name);
  await copyFile(path.join(projectRoot(), 'model.lock.json'), file);
  return file;
}

test('without MODEL_URI the committed lock stays, checked', async (t) => {
  const lock = await committedLockCopy('committed.json');
  const before = await readFile(lock, 'utf8');
  const run = await runScript('image-lock.ts', [lock], { timeoutMs: DEADLINE_MS });
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /serving the committed lock/);
  t.is(await readFile(lock, 'utf8'), before);
});

test('MODEL_URI, MODEL_MD5, MODEL_BYTES and MODEL_NAME become the lock', async (t) => {
  const lock = await committedLockCopy('args.json');
  const env = {
    MODEL_URI: 's3://models/spam/sms.ftz',
    MODEL_MD5: MD5.toUpperCase(),
    MODEL_BYTES: '231182',
    MODEL_NAME: 'sms-spam',
  };
  const run = await runScript('image-lock.ts', [lock], { env, timeoutMs: DEADLINE_MS });
  t.is(run.code, 0, run.stderr);
  t.deepEqual(await readLockFile(lock), { uri: 's3://models/spam/sms.ftz', md5: MD5, bytes: 231182, name: 'sms-spam' });
});

test('a partial or invalid set of build arguments fails and leaves the lock alone', async (t) => {
  const lock = await committedLockCopy('partial.json');
  const before = await readFile(lock, 'utf8');
  const cases: [Record<string, string>, RegExp][] = [
    [{ MODEL_URI: 's3://models/x.ftz', MODEL_MD5: MD5 }, /MODEL_URI needs MODEL_MD5 and MODEL_BYTES too/],
    [{ MODEL_MD5: MD5 }, /MODEL_MD5 is set but MODEL_URI is not/],
    [
      { MODEL_URI: 's3://models/x.ftz', MODEL_MD5: 'not-an-md5', MODEL_BYTES: '10' },
      /"md5" must be 32 hexadecimal characters/,
    ],
    [{ MODEL_URI: 's3://models/x.ftz', MODEL_MD5: MD5, MODEL_BYTES: '1e3' }, /"bytes" must be a positive integer/],
  ];
  for (const [env, message] of cases) {
    const run = await runScript('image-lock.ts', [lock], { env, timeoutMs: DEADLINE_MS });
    t.is(run.code, 1, JSON.stringify(env));
    t.regex(run.stderr, message);
  }
  t.is(await readFile(lock, 'utf8'), before);
});

test("MODEL_SHA256 and MODEL_CANARIES (the release lock's JSON array) go into the lock, validated", async (t) => {
  const lock = await committedLockCopy('full.json');
  const canaries = [{ text: 'WIN a prize', label: 'spam', score: 0.99 }];
  const env = {
    MODEL_URI: 's3://models/spam/sms.ftz',
    MODEL_MD5: MD5,
    MODEL_BYTES: '231182',
    MODEL_SHA256: 'AB'.repeat(32),
    MODEL_CANARIES: JSON.stringify(canaries),
  };
  const run = await runScript('image-lock.ts', [lock], { env, timeoutMs: DEADLINE_MS });
  t.is(run.code, 0, run.stderr);
  t.like(await readLockFile(lock), { sha256: 'ab'.repeat(32), canaries });
  const bad = await runScript('image-lock.ts', [lock], {
    env: { ...env, MODEL_CANARIES: '[{"text": "x"}]' },
    timeoutMs: DEADLINE_MS,
  });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /"canaries" \[0\] must be/);
  const notJson = await runScript('image-lock.ts', [lock], {
    env: { ...env, MODEL_CANARIES: '[' },
    timeoutMs: DEADLINE_MS,
  });
  t.regex(notJson.stderr, /MODEL_CANARIES is not JSON/);
});
