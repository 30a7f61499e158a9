// Children load only verified bytes: the cache entry is re-checked before every spawn,
// symlinks in the cache dir are never followed, and a changed file is removed so it is
// fetched again. Real files, a real file:// source; no S3 needed.
import { lstat, mkdir, open, readFile, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { publish } from '../../app/model/cache-file.js';
import { openPart } from '../../app/model/download.js';
import { SourceFactory } from '../../app/model/source.js';
import { ModelStore, ModelStoreError } from '../../app/model/store.js';
import type { ModelLock, ModelProgress } from '../../app/model/types.js';
import { BUNDLED_MD5, BUNDLED_MODEL, BUNDLED_SHA256, md5Of, recordingLogger, tempDir } from './fixtures.js';

let model: Buffer;
test.before(async () => {
  model = await readFile(BUNDLED_MODEL);
});

const lock: ModelLock = { uri: pathToFileURL(BUNDLED_MODEL).href, md5: BUNDLED_MD5, bytes: 938_013 };

async function harness(t: ExecutionContext) {
  const cacheDir = path.join(await tempDir('integrity'), 'models');
  const logger = recordingLogger();
  const sources = new SourceFactory({
    region: 'us-east-1',
    endpoint: undefined,
    forcePathStyle: true,
    checksums: 'when_required',
  });
  const store = new ModelStore({ cacheDir, sources, logger, retryBaseMs: 10, retryMaxMs: 50, stallTimeoutMs: 2000 });
  t.teardown(async () => {
    await store.close();
    sources.close();
  });
  return { cacheDir, logger, store, file: path.join(cacheDir, `${BUNDLED_MD5}.bin`) };
}

async function rejection(t: ExecutionContext, work: Promise<unknown>): Promise<ModelStoreError> {
  const err = await t.throwsAsync(work, { instanceOf: ModelStoreError });
  if (err === undefined) throw new Error('no rejection');
  return err;
}

test('recheck: an unchanged file passes on its lstat identity alone', async (t) => {
  const h = await harness(t);
  const verified = await h.store.ensure(lock);
  t.like(verified.identity, { size: model.length });
  t.deepEqual(await h.store.recheck(verified), verified);
  t.falsy(
    h.logger.entries.find((e) => e.msg?.includes('re-hash')),
    'no re-hash while the identity holds',
  );
});

test('recheck: the .bin overwritten after verify -> model_changed, and the file is gone', async (t) => {
  const h = await harness(t);
  const verified = await h.store.ensure(lock);
  const other = Buffer.from(model);
  other[5000] = (other[5000] ?? 0) ^ 0xff; // same size, other bytes: another model's labels
  await writeFile(h.file, other);
  const err = await rejection(t, h.store.recheck(verified));
  t.is(err.phase, 'model_changed');
  t.regex(err.message, new RegExp(`now hashes to md5 ${md5Of(other)}`));
  await t.throwsAsync(lstat(h.file), { code: 'ENOENT' }, 'the tampered file is removed');
  // The next ensure fetches it again, verified.
  const again = await h.store.ensure(lock);
  t.false(again.fromCache);
  t.true((await readFile(again.path)).equals(model));
});

test('recheck: a touch without a change moves the identity; the re-hash passes and is remembered', async (t) => {
  const h = await harness(t);
  const verified = await h.store.ensure(lock);
  const later = new Date(Date.now() + 5000);
  await utimes(h.file, later, later);
  const rechecked = await h.store.recheck(verified);
  t.not(rechecked.identity.mtimeMs, verified.identity.mtimeMs);
  t.is(rechecked.md5, BUNDLED_MD5);
  t.true((await readFile(h.file)).equals(model), 'the file stays');
  t.is(h.logger.entries.filter((e) => e.msg === 'model file touched but unchanged: re-hash matches').length, 1);
  // The store remembers the new identity: the next recheck of the old object does not re-hash.
  await h.store.recheck(verified);
  t.is(h.logger.entries.filter((e) => e.msg === 'model file touched but unchanged: re-hash matches').length, 1);
});

test('recheck: a file deleted or replaced by a symlink -> model_changed', async (t) => {
  const h = await harness(t);
  const verified = await h.store.ensure(lock);
  const copy = path.join(path.dirname(h.cacheDir), 'copy.bin');
  await writeFile(copy, model); // the very same bytes, behind a link
  await rm(h.file);
  t.is((await rejection(t, h.store.recheck(verified))).phase, 'model_changed');
  await symlink(copy, h.file);
  const err = await rejection(t, h.store.recheck(verified));
  t.is(err.phase, 'model_changed');
  t.regex(err.message, /symbolic link/);
  await t.throwsAsync(lstat(h.file), { code: 'ENOENT' }, 'the link is removed');
  t.true((await readFile(copy)).equals(model), 'its target is left alone');
});

for (const where of ['outside', 'inside'] as const) {
  test(`start: a symlinked <md5>.bin pointing ${where} the cache dir is removed, never followed, and the model fetched`, async (t) => {
    const h = await harness(t);
    await mkdir(h.cacheDir, { recursive: true });
    // The target holds the right bytes: following the link would "verify" unverified-by-us bytes.
    const target =
      where === 'outside' ? path.join(path.dirname(h.cacheDir), 'elsewhere.bin') : path.join(h.cacheDir, 'other.bin');
    await writeFile(target, model);
    await symlink(target, h.file);
    const progress: ModelProgress[] = [];
    const verified = await h.store.ensure(lock, { onProgress: (p) => progress.push(p) });
    t.false(verified.fromCache, 'the link was not taken as a cache hit');
    t.is(verified.bytesTransferred, model.length, 'the model was fetched again');
    t.true((await lstat(h.file)).isFile(), 'a regular file now, not a link');
    t.true((await readFile(target)).equals(model), 'the link target was not touched');
    t.truthy(
      h.logger.entries.find((e) => e.msg === 'cached model is a symbolic link; removing the link, never following it'),
    );
  });
}

test('start: a directory where <md5>.bin goes is cache_unusable, permanent, and left in place', async (t) => {
  const h = await harness(t);
  await mkdir(h.file, { recursive: true });
  const progress: ModelProgress[] = [];
  const abort = new AbortController();
  const pending = h.store.ensure(lock, { signal: abort.signal, onProgress: (p) => progress.push(p) });
  const deadline = Date.now() + 5000;
  while (!progress.some((p) => p.phase === 'cache_unusable') && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 10));
  abort.abort();
  await t.throwsAsync(pending, { name: 'AbortError' });
  const failure = progress.find((p) => p.phase === 'cache_unusable');
  t.regex(failure?.detail ?? '', /not a regular file/);
  t.true((failure?.nextRetryMs ?? 0) >= 25, 'a permanent failure waits near the cap at once');
  t.true((await lstat(h.file)).isDirectory());
});

test('sha256 beside MD5: both must match; a sha256 mismatch with the right MD5 is sha256_mismatch', async (t) => {
  const h = await harness(t);
  const good = await h.store.ensure({ ...lock, sha256: BUNDLED_SHA256 });
  t.is(good.sha256, BUNDLED_SHA256);
  const h2 = await harness(t);
  const wrong = 'a'.repeat(64);
  const progress: ModelProgress[] = [];
  const abort = new AbortController();
  const pending = h2.store.ensure(
    { ...lock, sha256: wrong },
    { signal: abort.signal, onProgress: (p) => progress.push(p) },
  );
  const deadline = Date.now() + 5000;
  while (!progress.some((p) => p.phase === 'sha256_mismatch') && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 10));
  abort.abort();
  await t.throwsAsync(pending, { name: 'AbortError' });
  const failure = progress.find((p) => p.phase === 'sha256_mismatch');
  t.regex(failure?.detail ?? '', new RegExp(`hashes to sha256 ${BUNDLED_SHA256}, expected sha256 ${wrong}`));
  t.like(failure?.lastFailure?.fetched, { md5: BUNDLED_MD5, sha256: BUNDLED_SHA256, bytes: model.length });
  t.deepEqual(await readdir(h2.cacheDir), [], 'nothing published');
  // A cached file verified by MD5 alone is re-checked against a sha256 the lock now names.
  await writeFile(path.join(h2.cacheDir, `${BUNDLED_MD5}.bin`), model);
  const h2Again = new ModelStore({
    cacheDir: h2.cacheDir,
    sources: new SourceFactory({ region: 'x', endpoint: undefined, forcePathStyle: true, checksums: 'when_required' }),
    logger: h2.logger,
    retryBaseMs: 10,
    retryMaxMs: 50,
    stallTimeoutMs: 2000,
  });
  const ok = await h2Again.ensure({ ...lock, sha256: BUNDLED_SHA256 });
  t.like(ok, { fromCache: true, sha256: BUNDLED_SHA256 });
  await h2Again.close();
});

// Two 128-byte blocks with one MD5 (Wang and Yu's published collision). Any common suffix
// keeps the MD5 equal: files that differ and that an MD5 check cannot tell apart.
const COLLIDING = [
  'd131dd02c5e6eec4693d9a0698aff95c2fcab58712467eab4004583eb8fb7f8955ad340609f4b30283e488832571415a085125e8f7cdc99fd91dbdf280373c5bd8823e3156348f5bae6dacd436c919c6dd53e2b487da03fd02396306d248cda0e99f33420f577ee8ce54b67080a80d1ec69821bcb6a8839396f9652b6ff72a70',
  'd131dd02c5e6eec4693d9a0698aff95c2fcab50712467eab4004583eb8fb7f8955ad340609f4b30283e4888325f1415a085125e8f7cdc99fd91dbd7280373c5bd8823e3156348f5bae6dacd436c919c6dd53e23487da03fd02396306d248cda0e99f33420f577ee8ce54b67080280d1ec69821bcb6a8839396f965ab6ff72a70',
].map((hex) => Buffer.from(hex, 'hex'));

test('a cache hit with a SHA-256 in the lock is checked by it: a file with the right MD5 and other bytes is refused', async (t) => {
  const suffix = Buffer.alloc(4096, 0x5a);
  const [genuine, forged] = COLLIDING.map((block) => Buffer.concat([block, suffix])) as [Buffer, Buffer];
  t.is(md5Of(forged), md5Of(genuine), 'the fixture is a real MD5 collision');
  t.false(forged.equals(genuine));
  const dir = await tempDir('collision');
  const source = path.join(dir, 'object.bin');
  await writeFile(source, genuine);
  const md5 = md5Of(genuine);
  const sha256 = createHash('sha256').update(genuine).digest('hex');
  const collisionLock: ModelLock = { uri: pathToFileURL(source).href, md5, bytes: genuine.length, sha256 };

  const h = await harness(t);
  const cached = path.join(h.cacheDir, `${md5}.bin`);
  await mkdir(h.cacheDir, { recursive: true });
  await writeFile(cached, forged);
  const got = await h.store.ensure(collisionLock);
  t.false(got.fromCache, 'the forged copy was not taken for a cache hit');
  t.is(got.verifiedBy, 'md5+sha256');
  t.true((await readFile(got.path)).equals(genuine), 'the file handed out is the genuine object');
  t.true(
    h.logger.entries.some(
      (e) => e.msg === 'cached model failed its check; removing it' && e.fields.algorithm === 'sha256',
    ),
  );

  // A restart on the genuine copy: a hit, verified by the SHA-256 alone (no MD5 pass).
  const again = await harness(t);
  await mkdir(again.cacheDir, { recursive: true });
  await writeFile(path.join(again.cacheDir, `${md5}.bin`), genuine);
  const hit = await again.store.ensure(collisionLock);
  t.like(hit, { fromCache: true, md5, sha256, verifiedBy: 'sha256' });
  const verified = again.logger.entries.find((e) => e.msg === 'model cache hit, verified');
  t.like(verified?.fields, { verifiedBy: 'sha256', sha256, md5 });
  // Overwritten after that by the forgery: the recheck before a spawn re-hashes by SHA-256.
  await writeFile(path.join(again.cacheDir, `${md5}.bin`), forged);
  const err = await rejection(t, again.store.recheck(hit));
  t.is(err.phase, 'model_changed');
  t.regex(err.message, new RegExp(`now hashes to sha256 ${createHash('sha256').update(forged).digest('hex')}`));

  // The limit of a lock without a SHA-256, kept visible: MD5 alone cannot tell the two apart.
  const md5Only = await harness(t);
  await mkdir(md5Only.cacheDir, { recursive: true });
  await writeFile(path.join(md5Only.cacheDir, `${md5}.bin`), forged);
  const weak = await md5Only.store.ensure({ ...collisionLock, sha256: undefined });
  t.true(weak.fromCache);
  t.like(md5Only.logger.entries.find((e) => e.msg === 'model cache hit, verified')?.fields, { verifiedBy: 'md5' });
  await rm(dir, { recursive: true, force: true });
});

test('publish never replaces a file at the final name; a .part name is never reused', async (t) => {
  const dir = await tempDir('publish');
  const finalPath = path.join(dir, `${BUNDLED_MD5}.bin`);
  const theirs = Buffer.from('another process published first');
  await writeFile(finalPath, theirs);
  const part = path.join(dir, 'mine.part');
  await writeFile(part, model);
  t.false(await publish(part, finalPath), 'refused: a file is in place');
  t.true((await readFile(finalPath)).equals(theirs), 'theirs is untouched');
  await rm(finalPath);
  t.true(await publish(part, finalPath));
  t.true((await readFile(finalPath)).equals(model));
  await t.throwsAsync(lstat(part), { code: 'ENOENT' }, 'the .part name is gone');
  // An exclusive create: a name that exists (however it came to be) is an error, not a truncation.
  const opened = await openPart(dir, BUNDLED_MD5, { bytes: 1, etag: undefined }, false);
  const second = await openPart(dir, BUNDLED_MD5, { bytes: 1, etag: undefined }, false);
  await opened.handle.close();
  await second.handle.close();
  t.not(second.path, opened.path, 'each attempt gets a name of its own');
  t.true(path.basename(opened.path).startsWith(`${BUNDLED_MD5}.${process.pid}.`));
  await t.throwsAsync(open(opened.path, 'wx'), { code: 'EEXIST' });
});
