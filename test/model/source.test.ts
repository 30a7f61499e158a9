import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { SourceError, SourceFactory, type S3Settings } from '../../app/model/source.js';
import { S3RVER_CREDENTIALS, startS3, type S3Fixture } from '../helpers/s3.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { BUNDLED_MODEL, tempDir } from './fixtures.js';

// The sources use the SDK's default credential chain; s3rver's keys reach it as env keys.
process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;

let s3: S3Fixture;
let model: Buffer;

test.before(async () => {
  s3 = await startS3();
  model = await readFile(BUNDLED_MODEL);
  await s3.put('src', 'lid.ftz', model);
});
test.after.always(async () => {
  await s3?.close();
});

function settings(endpoint: string): S3Settings {
  return { region: 'us-east-1', endpoint, forcePathStyle: true, checksums: 'when_required' };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

test('file source: size from head(), bytes from any offset', async (t) => {
  const source = new SourceFactory(settings(s3.endpoint)).for(pathToFileURL(BUNDLED_MODEL).href);
  const info = await source.head();
  t.is(info.bytes, model.length);
  t.true(Buffer.from(await readAll(await source.open(0))).equals(model));
  t.true((await readAll(await source.open(400_000))).equals(model.subarray(400_000)));
});

test('file source: a missing file is not_found, a directory is refused', async (t) => {
  const dir = await tempDir('src');
  const factory = new SourceFactory(settings(s3.endpoint));
  const missing = factory.for(pathToFileURL(path.join(dir, 'nope.bin')).href);
  t.like(await t.throwsAsync(missing.head(), { instanceOf: SourceError }), { kind: 'not_found' });
  t.like(await t.throwsAsync(missing.open(0), { instanceOf: SourceError }), { kind: 'not_found' });
  const dirErr = await t.throwsAsync(factory.for(pathToFileURL(dir).href).head(), { instanceOf: SourceError });
  t.is(dirErr.kind, 'failed');
  t.regex(dirErr.message, /not a regular file/);
});

test('file source: a file rewritten after head() is reported as changed', async (t) => {
  const file = path.join(await tempDir('src'), 'm.bin');
  await writeFile(file, 'one');
  const source = new SourceFactory(settings(s3.endpoint)).for(pathToFileURL(file).href);
  const { etag } = await source.head();
  await writeFile(file, 'two, longer');
  t.like(await t.throwsAsync(source.open(0, { etag }), { instanceOf: SourceError }), { kind: 'changed' });
});

test('s3 source on a real S3 server: HEAD size and ETag, GET whole and ranged', async (t) => {
  const factory = new SourceFactory(settings(s3.endpoint));
  t.teardown(() => factory.close());
  await s3.put('src', 'ranged.ftz', model);
  const source = factory.for('s3://src/ranged.ftz');
  const info = await source.head();
  t.is(info.bytes, model.length);
  t.truthy(info.etag);
  t.true((await readAll(await source.open(0, { etag: info.etag }))).equals(model));
  t.true((await readAll(await source.open(900_000, { etag: info.etag }))).equals(model.subarray(900_000)));
  t.deepEqual(
    s3.requests.filter((r) => r.url.startsWith('/src/ranged.ftz?') && r.method === 'GET').map((r) => r.range),
    [undefined, 'bytes=900000-'],
  );
});

test('s3 source: missing key and missing bucket are not_found', async (t) => {
  const factory = new SourceFactory(settings(s3.endpoint));
  t.teardown(() => factory.close());
  t.like(await t.throwsAsync(factory.for('s3://src/absent.bin').head(), { instanceOf: SourceError }), {
    kind: 'not_found',
  });
  t.like(await t.throwsAsync(factory.for('s3://src/absent.bin').open(0), { instanceOf: SourceError }), {
    kind: 'not_found',
  });
  t.like(await t.throwsAsync(factory.for('s3://no-such-bucket/k').open(0), { instanceOf: SourceError }), {
    kind: 'not_found',
  });
});

test('s3 source: the object replaced between head() and open() is reported as changed', async (t) => {
  await s3.put('src', 'moving.bin', Buffer.from('version one'));
  const factory = new SourceFactory(settings(s3.endpoint));
  t.teardown(() => factory.close());
  const source = factory.for('s3://src/moving.bin');
  const { etag } = await source.head();
  await s3.put('src', 'moving.bin', Buffer.from('version two'));
  t.like(await t.throwsAsync(source.open(0, { etag }), { instanceOf: SourceError }), { kind: 'changed' });
});

// Serial: it changes the process environment, which concurrent tests would see.
test.serial('s3 source: unknown credentials are access_denied, and the message holds no secret', async (t) => {
  const factory = new SourceFactory(settings(s3.endpoint));
  t.teardown(() => factory.close());
  const saved = { ...process.env };
  process.env.AWS_ACCESS_KEY_ID = 'AKIDWRONGKEY0001';
  process.env.AWS_SECRET_ACCESS_KEY = 'wrong-secret-value-1234';
  t.teardown(() => {
    process.env.AWS_ACCESS_KEY_ID = saved.AWS_ACCESS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY = saved.AWS_SECRET_ACCESS_KEY;
  });
  for (const attempt of [factory.for('s3://src/lid.ftz').head(), factory.for('s3://src/lid.ftz').open(0)]) {
    const err = await t.throwsAsync(attempt, { instanceOf: SourceError });
    t.is(err.kind, 'access_denied');
    t.regex(err.message, /(HEAD|GET) s3:\/\/src\/lid\.ftz: access denied \(HTTP 403/);
    t.false(err.message.includes('wrong-secret-value-1234'));
    t.false(err.message.includes('AKIDWRONGKEY0001'));
  }
});

test('s3 source: a closed port is unreachable, at once', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  const factory = new SourceFactory(settings(`http://user:pw@127.0.0.1:${port}`), { maxAttempts: 1 });
  t.teardown(() => factory.close());
  const started = Date.now();
  const err = await t.throwsAsync(factory.for('s3://src/lid.ftz').head(), { instanceOf: SourceError });
  t.is(err.kind, 'unreachable');
  t.regex(err.message, new RegExp(`http://127\\.0\\.0\\.1:${port} unreachable \\(ECONNREFUSED\\)`));
  t.false(err.message.includes('pw'), 'no userinfo from the endpoint');
  t.true(Date.now() - started < 2000);
});

test('s3 source: a server that never answers times out instead of waiting forever', async (t) => {
  const proxy = await startTcpProxy(s3.port);
  t.teardown(() => proxy.close());
  await proxy.setMode({ kind: 'delay', ms: 5000 });
  const factory = new SourceFactory(settings(proxy.url), { maxAttempts: 1, idleTimeoutMs: 300 });
  t.teardown(() => factory.close());
  const started = Date.now();
  const err = await t.throwsAsync(factory.for('s3://src/lid.ftz').head(), { instanceOf: SourceError });
  t.is(err.kind, 'unreachable');
  t.regex(err.message, /TimeoutError|ETIMEDOUT/);
  t.true(Date.now() - started < 2000, `gave up after ${Date.now() - started} ms`);
});
