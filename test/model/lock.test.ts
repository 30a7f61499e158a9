import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { projectRoot } from '../../app/config.js';
import { applyOverrides, formatLock, LockError, parseLock, readLockFile, resolveLock } from '../../app/model/lock.js';
import { parseModelUri } from '../../app/model/uri.js';
import { BUNDLED_BYTES, BUNDLED_MD5, BUNDLED_MODEL, md5OfFile, tempDir } from './fixtures.js';

const COMMITTED_LOCK = path.join(projectRoot(), 'model.lock.json');
const noOverrides = { uri: undefined, md5: undefined, name: undefined };
const OTHER_MD5 = '0123456789abcdef0123456789abcdef';

async function lockFileWith(doc: unknown): Promise<string> {
  const file = path.join(await tempDir('lock'), 'model.lock.json');
  await writeFile(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return file;
}

test('the committed lock names the bundled model, and its md5 and size are the real ones', async (t) => {
  const lock = await resolveLock({ lockFile: COMMITTED_LOCK, ...noOverrides });
  t.is(lock.uri, pathToFileURL(BUNDLED_MODEL).href);
  t.is(lock.md5, BUNDLED_MD5);
  t.is(lock.bytes, BUNDLED_BYTES);
  t.is(lock.name, 'lid176');
  t.deepEqual(lock.overridden, []);
  t.is(await md5OfFile(BUNDLED_MODEL), lock.md5);
});

test('a relative uri in a lock resolves against the lock file, not the working directory', (t) => {
  const lock = parseLock(
    { uri: './models/x.ftz', md5: BUNDLED_MD5.toUpperCase(), bytes: 10 },
    '/srv/app/model.lock.json',
  );
  t.is(lock.uri, 'file:///srv/app/models/x.ftz');
  t.is(lock.md5, BUNDLED_MD5, 'md5 normalised to lower case');
  t.is(
    parseLock({ uri: '../m/y.bin', md5: BUNDLED_MD5, bytes: 1 }, '/srv/app/model.lock.json').uri,
    'file:///srv/m/y.bin',
  );
});

test('accepted and rejected model URIs', (t) => {
  t.like(parseModelUri('s3://models-bucket/team/lid.176.ftz'), {
    kind: 's3',
    bucket: 'models-bucket',
    key: 'team/lid.176.ftz',
  });
  t.like(parseModelUri('file:///opt/m.bin'), { kind: 'file', path: '/opt/m.bin' });
  t.like(parseModelUri('file://localhost/opt/m.bin'), { kind: 'file', path: '/opt/m.bin' });
  t.throws(() => parseModelUri('file://./m.bin'), { message: /would be a host/ });
  t.throws(() => parseModelUri('https://example.com/m.bin'), { message: /unsupported scheme https/ });
  t.throws(() => parseModelUri('s3://bucket-only'), { message: /not s3:\/\/bucket\/key/ });
  t.throws(() => parseModelUri('s3://Bad_Bucket!/k'), { message: /not a valid bucket name/ });
  t.throws(() => parseModelUri('models/m.bin'), { message: /not an absolute URI/ });
  // The service trims its environment and S3 keys do not: whitespace at an end would name
  // one object to the publishing tools and another to the pods.
  for (const uri of ['s3://models-bucket/lid.ftz ', ' s3://models-bucket/lid.ftz', 'file:///opt/m.bin\n', '\ts3://b/k'])
    t.throws(() => parseModelUri(uri), { message: /begins or ends with whitespace/ }, JSON.stringify(uri));
  t.like(parseModelUri('s3://models-bucket/a key with spaces.ftz'), { key: 'a key with spaces.ftz' });
});

test('an invalid lock lists every problem, by field', (t) => {
  const err = t.throws(() => parseLock({ uri: '', md5: 'abc', bytes: -1, name: 'bad name', extra: 1 }, 'x.json'), {
    instanceOf: LockError,
  });
  for (const part of [
    'unknown field "extra"',
    '"uri" must be',
    '"md5" must be 32 hexadecimal',
    '"bytes" must be a positive integer',
    '"name" must match',
  ]) {
    t.true(err.message.includes(part), `message mentions ${part}: ${err.message}`);
  }
  t.throws(() => parseLock([], 'x.json'), { message: /expected a JSON object/ });
  t.throws(() => parseLock({ uri: 'file:///m', md5: BUNDLED_MD5 }, 'x.json'), { message: /"bytes" must be/ });
});

test('a lock file that is missing or not JSON fails with the file named and what to do', async (t) => {
  const missing = path.join(await tempDir('lock'), 'absent.json');
  const e1 = await t.throwsAsync(readLockFile(missing), { instanceOf: LockError });
  t.regex(e1.message, /cannot read the model lock .*absent\.json \(ENOENT\).*npm run model:lock/);
  t.is(e1.reason, 'missing');
  await t.throwsAsync(readLockFile(await lockFileWith('{"uri": ')), { message: /model\.lock\.json: not valid JSON/ });
});

test('MODEL_MD5 alone replaces the md5 and forgets the locked size', (t) => {
  const lock = parseLock({ uri: 's3://b1/m.bin', md5: BUNDLED_MD5, bytes: 5, name: 'm' }, '/x/l.json');
  const r = applyOverrides(lock, '/x/l.json', { md5: OTHER_MD5 });
  t.like(r, { uri: 's3://b1/m.bin', md5: OTHER_MD5, bytes: undefined, name: 'm' });
  t.deepEqual(r.overridden, ['md5']);
});

test('MODEL_URI elsewhere without MODEL_MD5 is refused: no model without its expected md5', (t) => {
  const lock = parseLock({ uri: 's3://b1/m.bin', md5: BUNDLED_MD5, bytes: 5 }, '/x/l.json');
  const err = t.throws(() => applyOverrides(lock, '/x/l.json', { uri: 's3://b1/other.bin' }), {
    instanceOf: LockError,
  });
  t.regex(err.message, /MODEL_URI=s3:\/\/b1\/other\.bin is not the locked model .*MODEL_MD5 is not set/);
});

test('MODEL_URI naming the locked object (any spelling) needs no MODEL_MD5 and keeps the lock', (t) => {
  const lock = parseLock({ uri: './m.bin', md5: BUNDLED_MD5, bytes: 5, name: 'm' }, '/x/l.json');
  const r = applyOverrides(lock, '/x/l.json', { uri: 'file://localhost/x/m.bin' });
  t.like(r, { uri: 'file:///x/m.bin', md5: BUNDLED_MD5, bytes: 5, name: 'm' });
  t.deepEqual(r.overridden, ['uri']);
});

test('MODEL_URI + MODEL_MD5 serve another model, named after its file unless MODEL_NAME says', (t) => {
  const lock = parseLock({ uri: './m.bin', md5: BUNDLED_MD5, bytes: 5, name: 'm' }, '/x/l.json');
  const r = applyOverrides(lock, '/x/l.json', { uri: 's3://b2/dir/news-v3.ftz', md5: OTHER_MD5.toUpperCase() });
  t.like(r, { uri: 's3://b2/dir/news-v3.ftz', md5: OTHER_MD5, bytes: undefined, name: 'news-v3' });
  t.is(applyOverrides(lock, '/x/l.json', { uri: 's3://b2/n.ftz', md5: OTHER_MD5, name: 'news' }).name, 'news');
  t.throws(() => applyOverrides(lock, '/x/l.json', { name: '../etc' }), { message: /MODEL_NAME="..\/etc" must match/ });
  t.throws(() => applyOverrides(lock, '/x/l.json', { md5: 'nope' }), { message: /MODEL_MD5="nope"/ });
  t.throws(() => applyOverrides(lock, '/x/l.json', { uri: 'file://./rel.bin', md5: OTHER_MD5 }), {
    message: /MODEL_URI: .*would be a host/,
  });
});

test('without a lock file, MODEL_URI and MODEL_MD5 together suffice; one alone does not', async (t) => {
  const missing = path.join(await tempDir('lock'), 'none.json');
  const r = await resolveLock({ lockFile: missing, uri: 's3://b3/k.bin', md5: OTHER_MD5, name: undefined });
  t.like(r, { uri: 's3://b3/k.bin', md5: OTHER_MD5, lockFile: undefined, name: 'k' });
  await t.throwsAsync(resolveLock({ lockFile: missing, uri: 's3://b3/k.bin', md5: undefined, name: undefined }), {
    message: /cannot read the model lock/,
  });
  // A broken lock is a build bug: it fails even when fully overridden.
  const broken = await lockFileWith({ uri: 'file:///m', md5: 'zz', bytes: 1 });
  await t.throwsAsync(resolveLock({ lockFile: broken, uri: 's3://b3/k.bin', md5: OTHER_MD5, name: undefined }), {
    message: /"md5" must be/,
  });
});

const SHA = 'ab'.repeat(32);
const OTHER_SHA = 'cd'.repeat(32);

test('sha256 in a lock: optional, 64 hex, normalised; anything else is refused by name', (t) => {
  const base = { uri: './m.ftz', md5: BUNDLED_MD5, bytes: 10 };
  t.is(parseLock(base, '/srv/model.lock.json').sha256, undefined);
  t.is(parseLock({ ...base, sha256: SHA.toUpperCase() }, '/srv/model.lock.json').sha256, SHA);
  for (const bad of ['ab', SHA + '0', 'zz'.repeat(32), 42, null]) {
    const err = t.throws(() => parseLock({ ...base, sha256: bad }, '/srv/model.lock.json'), { instanceOf: LockError });
    t.regex(err?.message ?? '', /"sha256" must be 64 hexadecimal characters/);
  }
});

test('MODEL_SHA256 overrides the lock; the lock sha256 never follows another md5 or object', (t) => {
  const lock = parseLock({ uri: './m.ftz', md5: BUNDLED_MD5, bytes: 10, sha256: SHA }, '/srv/model.lock.json');
  t.is(applyOverrides(lock, '/srv/model.lock.json', noOverrides).sha256, SHA);
  const overridden = applyOverrides(lock, '/srv/model.lock.json', { ...noOverrides, sha256: OTHER_SHA.toUpperCase() });
  t.is(overridden.sha256, OTHER_SHA);
  t.deepEqual(overridden.overridden, ['sha256']);
  // Another MD5 is another object: the lock's sha256 (which describes the locked bytes) goes.
  t.is(applyOverrides(lock, '/srv/model.lock.json', { ...noOverrides, md5: OTHER_MD5 }).sha256, undefined);
  t.is(
    applyOverrides(lock, '/srv/model.lock.json', {
      ...noOverrides,
      uri: 's3://bucket/k',
      md5: OTHER_MD5,
      sha256: OTHER_SHA,
    }).sha256,
    OTHER_SHA,
  );
  t.throws(() => applyOverrides(lock, '/srv/model.lock.json', { ...noOverrides, sha256: 'nope' }), {
    message: /MODEL_SHA256="nope" is not 64 hexadecimal/,
  });
});

test('formatLock writes sha256 when there is one, and what it writes parses back', (t) => {
  const text = formatLock({ uri: './m.ftz', md5: BUNDLED_MD5, bytes: 10, sha256: SHA, name: 'm' });
  t.deepEqual(parseLock(JSON.parse(text), '/srv/model.lock.json'), {
    uri: 'file:///srv/m.ftz',
    md5: BUNDLED_MD5,
    bytes: 10,
    sha256: SHA,
    name: 'm',
  });
  t.false(formatLock({ uri: './m.ftz', md5: BUNDLED_MD5, bytes: 10 }).includes('sha256'));
});
