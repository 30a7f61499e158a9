// The README's release section, followed to the letter against s3rver on 127.0.0.1: its own
// text is parsed and every `npm run` line runs as written (from an operator's directory that
// links the project's node_modules and chart, so its relative paths mean what they say),
// every helm line renders with the real helm of its major, and the service starts with the
// rendered pod's environment. Then a second model, then a bad release. At each step the test
// checks what the operator sees; at the end, that the project is as it was: model.lock.json
// untouched, nothing written into the tree, and the quick start still serving the bundled model.
import { access, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import YAML from 'yaml';
import { projectRoot } from '../../app/config.js';
import type { HelmMajor } from '../../scripts/helm/helm-binary.js';
import { renderPodTemplate } from '../resilience/harness/chart-pod.js';
import { startS3, type S3Fixture } from '../helpers/s3.js';
import { startService, type RunningService } from '../helpers/service.js';
import { commands, npmScript, readmeSection, type Block, type Command } from './readme-commands.js';
import { runScript, type ScriptRun } from './run-script.js';
import { freePort } from '../helpers/fixtures.js';

const STEP_MS = 240_000;
const ROOT = projectRoot();
// Paths a release could leave in the project, and the bundled lock, as they were before.
const TREE_PATHS = ['releases', 'models', 'release-prod.yaml'];
let before: { lock: string; existing: Set<string> };
let s3: S3Fixture;
let dir: string;
let env: Record<string, string> = {};
let blocks: Block[];
const outcomes: string[] = [];

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

test.before(async () => {
  const existing = new Set<string>();
  for (const p of TREE_PATHS) if (await exists(path.join(ROOT, p))) existing.add(p);
  before = { lock: await readFile(path.join(ROOT, 'model.lock.json'), 'utf8'), existing };
  blocks = await readmeSection('Release');
  dir = await mkdtemp(path.join(os.tmpdir(), 'release-flow-'));
  // The operator's checkout: its relative paths (node_modules/..., chart/...) resolve as in the project.
  for (const link of ['node_modules', 'chart']) await symlink(path.join(ROOT, link), path.join(dir, link));
});
test.after.always(async (t) => {
  t.log(outcomes.join('\n'));
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

function block(heading: string, lang = 'sh'): Block {
  const found = blocks.filter((b) => b.heading === heading && b.lang === lang);
  if (found.length !== 1)
    throw new Error(`README "## Release": expected one ${lang} block under "### ${heading}", found ${found.length}`);
  return found[0] as Block;
}

async function npm(t: ExecutionContext, cmd: Command): Promise<ScriptRun> {
  const { script, args } = await npmScript(cmd.words);
  const run = await runScript(script, args, { env, cwd: dir, timeoutMs: STEP_MS });
  outcomes.push(`$ ${cmd.line}\n  -> exit ${run.code}; ${run.stderr.trim().split('\n').at(-1) ?? ''}`);
  t.log(`${cmd.words.slice(0, 4).join(' ')}: exit ${run.code} (${Math.round(run.ms)} ms)`);
  return run;
}

/**
 * A README helm line rendered by the real helm of its major (`upgrade --install` becomes
 * `template`, every other flag kept, so helm itself checks them), pointed at s3rver as the
 * rehearsal paragraph says, and started as the pod would run (remaps: loopback, free ports,
 * a temp cache dir, no shutdown delay), with the Secret the cluster would hold.
 */
async function deploy(t: ExecutionContext, cmd: Command, major: HelmMajor): Promise<RunningService> {
  const [helm, upgrade, install, , chart, ...flags] = cmd.words;
  t.deepEqual([helm, upgrade, install, chart], ['helm', 'upgrade', '--install', 'chart'], cmd.line);
  const args = flags.map((w, i) => (flags[i - 1] === '-f' ? path.resolve(dir, w) : w));
  const secretName = /^s3\.existingSecret=(.+)$/.exec(flags[flags.indexOf('--set') + 1] ?? '')?.[1];
  t.truthy(secretName, 'the deploy line sets s3.existingSecret');
  const template = await renderPodTemplate({
    overlay: 'default',
    args: [...args, '--set', `s3.endpoint=${env.S3_ENDPOINT ?? ''}`, '--set', 's3.forcePathStyle=true'],
    secrets: {
      [secretName ?? '']: {
        AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID ?? '',
        AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY ?? '',
      },
    },
    helmMajor: major,
  });
  t.is(template.env.AWS_ACCESS_KEY_ID, env.AWS_ACCESS_KEY_ID, 'the keys come from the Secret');
  const cacheDir = await mkdtemp(path.join(dir, 'pod-cache-'));
  const podEnv = {
    ...template.env,
    HOST: '127.0.0.1',
    PORT: '0',
    MANAGEMENT_PORT: String(await freePort()),
    MODEL_CACHE_DIR: cacheDir,
    SHUTDOWN_DELAY_MS: '0',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  return startService({ env: podEnv, timeoutMs: 30_000 });
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function topLabel(service: RunningService, text: string): Promise<string | undefined> {
  const res = await fetch(`${service.url}/v1/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  const body = (await res.json()) as { predictions?: { label: string }[] };
  return body.predictions?.[0]?.label;
}

interface ReleaseLock {
  uri: string;
  md5: string;
  sha256: string;
  bytes: number;
  name: string;
  canaries?: { text: string; label: string; score: number }[];
}
const readLock = async (name: string): Promise<ReleaseLock> =>
  JSON.parse(await readFile(path.join(dir, 'releases', `${name}.lock.json`), 'utf8')) as ReleaseLock;

test.serial('rehearsal: an s3rver on 127.0.0.1 with the bucket, and the S3 settings every step reads', async (t) => {
  const cmds = commands(block('Rehearsing a release on one machine'), {});
  const start = cmds.find((c) => c.words[0] === 'npx' && c.words[1] === 's3rver');
  t.truthy(start?.background, 's3rver starts in the background');
  const bucket = start?.words[start.words.indexOf('--configure-bucket') + 1] ?? '';
  const exported = cmds.find((c) => c.words[0] === 'export');
  t.truthy(exported);
  env = Object.fromEntries((exported?.words.slice(1) ?? []).map((w) => w.split('=', 2) as [string, string]));
  t.like(env, { AWS_ACCESS_KEY_ID: 'S3RVER', S3_FORCE_PATH_STYLE: 'true', AWS_EC2_METADATA_DISABLED: 'true' });
  // The s3rver of the test fixture, on a free port, in place of the README's fixed 4569.
  s3 = await startS3();
  await s3.put(bucket, '.keep', Buffer.from(''));
  outcomes.push(`rehearsal: bucket ${bucket}; S3_ENDPOINT ${env.S3_ENDPOINT ?? ''} -> ${s3.endpoint} (a free port)`);
  env.S3_ENDPOINT = s3.endpoint;
});

test.serial(
  'steps: train, publish, values --verify, release:verify, render; the pods serve the published model',
  async (t) => {
    t.timeout(STEP_MS * 2);
    const skipped: string[] = [];
    const helmLines: Command[] = [];
    for (const cmd of commands(block('Steps'), env)) {
      const [tool, sub] = cmd.words;
      if (tool === 'npm') {
        const run = await npm(t, cmd);
        t.is(run.code, 0, `${cmd.line}\n${run.stderr}`);
        if (sub === 'run' && cmd.words[3] === 'model:train') {
          const report = JSON.parse(run.stdout) as { model: { md5: string } };
          t.regex(report.model.md5, /^[0-9a-f]{32}$/, 'stdout is the JSON report, nothing before it');
        }
      } else if (tool === 'git') {
        // Checked, not run: what it adds is a release lock, never model.lock.json.
        const added = cmd.words.slice(2);
        if (sub === 'add')
          for (const f of added) t.true(f.startsWith('releases/') && (await exists(path.join(dir, f))), `git add ${f}`);
      } else if (tool === 'helm') {
        helmLines.push(cmd);
      } else if (tool === 'docker') {
        skipped.push(cmd.line);
      } else {
        t.fail(`a README step this test does not know how to follow: ${cmd.line}`);
      }
    }
    t.is(skipped.length, 2, 'docker build and push: npm run test:image builds the image');
    const lock = await readLock('sms-spam');
    t.like(lock, { uri: 's3://my-models/spam/sms-spam-2026-11-28.ftz', name: 'sms-spam' });
    t.regex(lock.sha256, /^[0-9a-f]{64}$/);
    t.deepEqual(
      lock.canaries?.map((c) => c.label),
      ['spam', 'ham'],
    );
    const values = YAML.parse(await readFile(path.join(dir, 'release-prod.yaml'), 'utf8')) as {
      image: unknown;
      model: Record<string, unknown>;
    };
    t.deepEqual(values.image, { repository: 'registry.example.com/fasttext-edge', tag: '1.3.0' });
    t.like(values.model, { uri: lock.uri, md5: lock.md5, name: 'sms-spam' });

    t.is(helmLines.length, 1);
    const deployLine = helmLines[0] as Command;
    t.true(deployLine.words.includes('--rollback-on-failure') && deployLine.words.includes('--wait'));
    t.regex(deployLine.line, /--timeout 16m/);
    // The helm 3 variant the README gives in prose renders with helm 3.
    const helm3 = {
      ...deployLine,
      words: deployLine.words.map((w) => (w === '--rollback-on-failure' ? '--atomic' : w)),
    };
    const pod3 = await deploy(t, helm3, 3);
    await pod3.stop();
    const pod = await deploy(t, deployLine, 4);
    try {
      await pod.waitReady(60_000);
      const model = await getJson(`${pod.url}/v1/model`);
      t.like(model.body, {
        name: 'sms-spam',
        uri: lock.uri,
        md5: { expected: lock.md5, actual: lock.md5 },
        state: 'ready',
      });
      for (const c of lock.canaries ?? []) t.is(await topLabel(pod, c.text), c.label, `canary ${c.text}`);
      outcomes.push(
        `deployed: /v1/model ${JSON.stringify(model.body.name)} md5 ${lock.md5}; canaries answer as recorded`,
      );
    } finally {
      await pod.stop();
    }
  },
);

test.serial('a second model rolls with the same image: the email model, label SPAM', async (t) => {
  t.timeout(STEP_MS * 2);
  const cmds = commands(block('Rolling a second model'), env);
  for (const cmd of cmds.filter((c) => c.words[0] === 'npm')) {
    const run = await npm(t, cmd);
    t.is(run.code, 0, `${cmd.line}\n${run.stderr}`);
  }
  const lock = await readLock('email-spam');
  t.not(lock.md5, (await readLock('sms-spam')).md5);
  const deployLine = cmds.find((c) => c.words[0] === 'helm');
  if (deployLine === undefined) return t.fail('no helm line in "Rolling a second model"');
  const pod = await deploy(t, deployLine, 4);
  try {
    await pod.waitReady(60_000);
    t.like((await getJson(`${pod.url}/v1/model`)).body, {
      name: 'email-spam',
      md5: { expected: lock.md5 },
      state: 'ready',
    });
    t.is(
      await topLabel(pod, 'subject: cheap viagra , lowest prices , no prescription needed , click here to order now'),
      'SPAM',
    );
    outcomes.push(`second model: /v1/model "email-spam" md5 ${lock.md5}`);
  } finally {
    await pod.stop();
  }
});

test.serial(
  'a bad release: a released key is not overwritten, stale values fail release:verify, and deployed anyway they never turn ready',
  async (t) => {
    t.timeout(STEP_MS);
    const sms = await readLock('sms-spam');
    const email = await readLock('email-spam');
    // (a) Other bytes under the released key: refused, the object and its lock untouched.
    const publish = commands(block('Steps'), env).find((c) => c.words[3] === 'model:publish') as Command;
    const overwrite = {
      ...publish,
      words: publish.words.map((w) => (w === 'models/sms-spam.ftz' ? 'models/email-spam.ftz' : w)),
      line: `${publish.line} (with models/email-spam.ftz)`,
    };
    const refused = await npm(t, overwrite);
    t.is(refused.code, 1);
    t.true(
      refused.stderr.includes(
        `${sms.uri} already holds a different object (${sms.bytes} bytes, md5 ${sms.md5}, sha256 ${sms.sha256})`,
      ),
      refused.stderr,
    );
    t.regex(refused.stderr, /publish under a new key, or pass --force/);
    t.deepEqual(await readLock('sms-spam'), sms);

    // (b) Values naming the email key with the SMS model's MD5 (a stale copy-paste): the README's
    // own release:verify line fails before the deploy, naming both.
    const file = path.join(dir, 'release-prod.yaml');
    const values = YAML.parse(await readFile(file, 'utf8')) as { model: Record<string, unknown> };
    values.model.md5 = sms.md5;
    delete values.model.sha256;
    await writeFile(file, YAML.stringify(values));
    const verifyLine = commands(block('Steps'), env).find((c) => c.words[3] === 'release:verify') as Command;
    const verify = await npm(t, verifyLine);
    t.is(verify.code, 1);
    t.true(verify.stderr.includes(`md5: stored ${email.md5}, expected ${sms.md5}`), verify.stderr);
    t.like(JSON.parse(verify.stdout), { verified: false });

    // (c) Deployed anyway: never ready, and /ready names the cause.
    const deployLine = commands(block('Steps'), env).find((c) => c.words[0] === 'helm') as Command;
    const pod = await deploy(t, deployLine, 4);
    try {
      const deadline = performance.now() + 20_000;
      let ready = await getJson(`${pod.managementUrl}/ready`);
      while (ready.body.reason !== 'md5_mismatch' && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        ready = await getJson(`${pod.managementUrl}/ready`);
      }
      t.is(ready.status, 503);
      t.like(ready.body, { status: 'not_ready', reason: 'md5_mismatch' });
      t.like((await getJson(`${pod.url}/v1/model`)).body, { md5: { expected: sms.md5 } });
      outcomes.push(`bad release deployed anyway: /ready 503 ${JSON.stringify(ready.body)}`);
    } finally {
      await pod.stop();
    }
  },
);

test.serial(
  'afterwards the project is as it was: model.lock.json untouched, nothing written, npm start serves the bundled model',
  async (t) => {
    t.is(await readFile(path.join(ROOT, 'model.lock.json'), 'utf8'), before.lock);
    for (const p of TREE_PATHS) t.is(await exists(path.join(ROOT, p)), before.existing.has(p), `${p} in the project`);
    // `npm start` is `node dist/app/main.js` with no model settings: the bundled lock.
    const service = await startService({ env: { SHUTDOWN_DELAY_MS: '0' } });
    try {
      await service.waitReady(30_000);
      t.like((await getJson(`${service.url}/v1/model`)).body, { name: 'lid176', state: 'ready' });
      t.is(await topLabel(service, 'Bonjour tout le monde'), 'fr');
    } finally {
      await service.stop();
    }
  },
);
