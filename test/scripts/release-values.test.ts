// `npm run release:values` end to end: the file it writes, layered over an environment's
// values with the real helm, renders pods that run the image tag and check the locked MD5.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import YAML from 'yaml';
import { projectRoot } from '../../app/config.js';
import { helmBinary } from '../../scripts/helm/helm-binary.js';
import { chartModelValues, modelValues } from '../../scripts/model/chart-values.js';
import { runScript } from './run-script.js';

const execFileAsync = promisify(execFile);
const DEADLINE_MS = 30_000;
const MD5 = '0123456789abcdef0123456789abcdef';
const SHA256 = '0123456789abcdef'.repeat(4);

interface Container {
  image: string;
  env?: { name: string; value?: string }[];
}
interface Manifest {
  kind: string;
  metadata: { name: string };
  spec?: { template?: { spec?: { containers?: Container[] } } };
  data?: Record<string, string>;
}

let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'release-values-test-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeLock(name: string, lock: object): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `${JSON.stringify(lock, null, 2)}\n`);
  return file;
}

/** `helm template` with the environment's values, then the release file, as the README says. */
async function render(env: string, releaseFile: string): Promise<Manifest[]> {
  const helm = await helmBinary(3);
  const chart = path.join(projectRoot(), 'chart');
  const { stdout } = await execFileAsync(
    helm,
    ['template', 'fasttext-edge', chart, '-f', path.join(chart, `values-${env}.yaml`), '-f', releaseFile],
    {
      timeout: DEADLINE_MS,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return YAML.parseAllDocuments(stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

function container(manifests: Manifest[]): Container {
  const deployment = manifests.find((m) => m.kind === 'Deployment');
  const c = deployment?.spec?.template?.spec?.containers?.[0];
  if (c === undefined) throw new Error('no Deployment container in the rendered chart');
  return c;
}

const envValue = (c: Container, name: string): string | undefined => c.env?.find((e) => e.name === name)?.value;

test('the prod release file puts the image tag and the locked model into the pods', async (t) => {
  const canaries = [{ text: 'WIN a FREE prize now', label: 'spam', score: 0.98 }];
  const lock = await writeLock('published.lock.json', {
    uri: 's3://models/spam/sms-v3.ftz',
    md5: MD5,
    bytes: 231182,
    name: 'sms-spam',
    sha256: SHA256,
    canaries,
  });
  const out = path.join(dir, 'release-prod.yaml');
  const run = await runScript(
    'release-values.ts',
    ['--env', 'prod', '--image-tag', '1.4.2', '--lock', lock, '--out', out],
    { timeoutMs: DEADLINE_MS },
  );
  t.is(run.code, 0, run.stderr);
  const written = YAML.parse(await readFile(out, 'utf8')) as { image: unknown; model: Record<string, unknown> };
  t.deepEqual(written.image, { tag: '1.4.2' });
  t.like(written.model, { uri: 's3://models/spam/sms-v3.ftz', md5: MD5, name: 'sms-spam' });
  // bytes, sha256 and canaries go in where the chart takes them, and are named where it does not.
  const takes = await chartModelValues(path.join(projectRoot(), 'chart'));
  for (const [key, value] of Object.entries({ bytes: 231182, sha256: SHA256, canaries })) {
    if (takes.has(key)) t.deepEqual(written.model[key], value, key);
    else t.true(run.stderr.includes(`model.${key}`) && !(key in written.model), `${key}: ${run.stderr}`);
  }
  const manifests = await render('prod', out);
  const c = container(manifests);
  t.regex(c.image, /:1\.4\.2$/);
  t.is(envValue(c, 'MODEL_URI'), 's3://models/spam/sms-v3.ftz');
  t.is(envValue(c, 'MODEL_MD5'), MD5);
  t.is(manifests.find((m) => m.kind === 'ConfigMap')?.data?.MODEL_NAME, 'sms-spam');
});

test('--no-model releases the image alone: the pods serve the lock baked into it', async (t) => {
  const digest = `sha256:${'ab'.repeat(32)}`;
  const run = await runScript('release-values.ts', ['--env', 'staging', '--image-digest', digest, '--no-model'], {
    timeoutMs: DEADLINE_MS,
  });
  t.is(run.code, 0, run.stderr);
  t.deepEqual(YAML.parse(run.stdout), { image: { digest } });
  const out = path.join(dir, 'release-staging.yaml');
  await writeFile(out, run.stdout);
  const c = container(await render('staging', out));
  t.true(c.image.endsWith(`@${digest}`), c.image);
  t.is(envValue(c, 'MODEL_URI'), undefined);
  t.is(envValue(c, 'MODEL_MD5'), undefined);
});

test('a lock that names a file inside the project is refused with the way out', async (t) => {
  const lock = await writeLock('bundled.lock.json', { uri: './lid.176.ftz', md5: MD5, bytes: 938013 });
  const run = await runScript('release-values.ts', ['--env', 'prod', '--image-tag', '1.0.0', '--lock', lock], {
    timeoutMs: DEADLINE_MS,
  });
  t.is(run.code, 2);
  t.regex(
    run.stderr,
    /a file relative to the lock, which a pod cannot reach: publish the model first .* or pass --no-model/,
  );
  t.is(run.stdout, '');
});

test('an unknown environment, a bad tag or no image are usage errors', async (t) => {
  const env = await runScript('release-values.ts', ['--env', 'qa', '--image-tag', '1.0.0', '--no-model'], {
    timeoutMs: DEADLINE_MS,
  });
  t.is(env.code, 2);
  const envs = (await readdir(path.join(projectRoot(), 'chart')))
    .flatMap((f) => /^values-(.+)\.yaml$/.exec(f)?.[1] ?? [])
    .sort();
  t.true(envs.includes('prod'));
  t.true(
    env.stderr.includes(
      `--env "qa": not one of the chart's environments (${envs.join(', ')}; each a chart/values-ENV.yaml)`,
    ),
    env.stderr,
  );
  // A name that normalises to an existing overlay, or carries a newline into the header
  // comment (which would write live YAML), is not an environment either.
  for (const name of ['x/../prod', '../values-prod', 'prod\ns3:\n  endpoint: "http://evil.example"\n#']) {
    const run = await runScript('release-values.ts', ['--env', name, '--image-tag', '1.0.0', '--no-model'], {
      timeoutMs: DEADLINE_MS,
    });
    t.is(run.code, 2, JSON.stringify(name));
    t.is(run.stdout, '', 'nothing written');
  }
  const out = await runScript(
    'release-values.ts',
    ['--env', 'dev', '--image-tag', '1.0.0', '--no-model', '--out', '/nonexistent-dir/x.yaml'],
    { timeoutMs: DEADLINE_MS },
  );
  t.is(out.code, 2);
  t.regex(out.stderr, /--out \/nonexistent-dir\/x.yaml: ENOENT/);
  t.notRegex(out.stderr, /\n\s+at /, 'a message, not a stack trace');
  const tag = await runScript('release-values.ts', ['--env', 'dev', '--image-tag', 'v1:bad', '--no-model'], {
    timeoutMs: DEADLINE_MS,
  });
  t.is(tag.code, 2);
  t.regex(tag.stderr, /is not a valid image tag/);
  const none = await runScript('release-values.ts', ['--env', 'dev'], { timeoutMs: DEADLINE_MS });
  t.is(none.code, 2);
  t.regex(none.stderr, /--image-tag or --image-digest is required/);
});

test('a model release needs the release lock: model.lock.json (the bundled default) is not one', async (t) => {
  const run = await runScript('release-values.ts', ['--env', 'prod', '--image-tag', '1.0.0'], {
    timeoutMs: DEADLINE_MS,
  });
  t.is(run.code, 2);
  t.regex(run.stderr, /--lock FILE is required: the release lock model:publish wrote \(releases\/<name>\.lock\.json\)/);
  t.is(run.stdout, '');
});

test('modelValues carries every lock field the chart declares, and names the rest', (t) => {
  const lock = {
    uri: 's3://b/k.ftz',
    md5: MD5,
    bytes: 10,
    name: 'n',
    sha256: SHA256,
    canaries: [{ text: 'x', label: 'y', score: 0.5 }],
  };
  t.deepEqual(modelValues(lock, new Set(['uri', 'md5', 'name', 'bytes', 'sha256', 'canaries'])), {
    values: {
      uri: 's3://b/k.ftz',
      md5: MD5,
      name: 'n',
      bytes: 10,
      sha256: SHA256,
      canaries: [{ text: 'x', label: 'y', score: 0.5 }],
    },
    omitted: [],
  });
  t.deepEqual(modelValues(lock, new Set(['uri', 'md5', 'name'])).omitted, [
    'model.bytes',
    'model.sha256',
    'model.canaries',
  ]);
  const certain = { ...lock, canaries: [{ text: 'x', label: 'y', score: 1.00001 }] };
  t.deepEqual(
    modelValues(certain, new Set(['canaries'])).values.canaries,
    [{ text: 'x', label: 'y', score: 1 }],
    "fastText's printed 1.00001 is a probability of 1",
  );
});

test('a lock path with a line break of any kind stays inside the header comment', async (t) => {
  // helm's YAML reader ends a comment at NEL, U+2028 and U+2029 too: each would start a live value.
  for (const brk of ['\n', '\r', '\u0085', '\u2028', '\u2029']) {
    const lockDir = path.join(dir, `rel${brk}replicaCount: 7${brk}#`);
    await mkdir(lockDir, { recursive: true });
    const lock = path.join(lockDir, 'm.lock.json');
    await writeFile(lock, JSON.stringify({ uri: 's3://bucket/m.bin', md5: '0'.repeat(32), bytes: 100, name: 'm' }));
    const run = await runScript('release-values.ts', ['--env', 'dev', '--image-tag', 'v1', '--lock', lock], {
      timeoutMs: DEADLINE_MS,
    });
    t.is(run.code, 0, run.stderr);
    const header = run.stdout.split('\n').filter((l) => l.startsWith('#'));
    t.is(header.length, 2, JSON.stringify(brk));
    t.notRegex(run.stdout, /[\r\u0085\u2028\u2029]/, 'no line break of another kind in the output');
    t.false(/^replicaCount/m.test(run.stdout));
  }
});
