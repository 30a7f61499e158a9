// npm run release:values -- --env prod --image-tag T --lock releases/NAME.lock.json [--verify] [--out FILE]
// Writes the values file a pipeline layers over the environment's own:
//   helm upgrade --install fasttext-edge chart -f chart/values-prod.yaml -f <this file>
// It carries what changes per release: the image tag (or digest) and the model, as the
// release lock fixed it (uri, md5, sha256, bytes, name, canaries). Nothing here is typed by
// hand, so the checksums the pods check are the ones model:publish computed from the bytes;
// --verify also proves, with one HEAD, that the object in S3 is still those bytes.
import { runCli, UsageError } from './model/run-cli.js';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { ConfigError, loadConfig, projectRoot } from '../app/config.js';
import { LockError, readLockFile } from '../app/model/lock.js';
import { SourceError } from '../app/model/source.js';
import { chartModelValues, modelValues } from './model/chart-values.js';
import { ReleaseMismatchError, verifyRelease } from './model/verify-release.js';

const USAGE = `Usage: npm run release:values -- --env ENV (--image-tag TAG | --image-digest DIGEST) [options]

Writes the Helm values that release one image and one model to one environment, for
  helm upgrade --install fasttext-edge chart -f chart/values-ENV.yaml -f <output>

  --env ENV             the environment: one of the chart's values-ENV.yaml files
  --image-tag TAG       the image tag to deploy
  --image-digest D      the image digest (sha256:...), which wins over the tag in the chart
  --image-repository R  the image repository (default: the chart's)
  --lock FILE           the release lock of the model (model:publish wrote it:
                        releases/<name>.lock.json); required unless --no-model
  --no-model            release the image only: the pods serve the lock baked into the image
  --verify              HEAD the model's object first (S3 settings as for model:publish) and
                        refuse the release unless its size and stored md5/sha256 match the lock
  --out FILE            where to write (default: stdout)
  -h, --help            this help

Exit status: 0 written, 1 the object does not match (--verify) or S3 failed, 2 bad arguments
or lock.`;

// Docker's reference grammar for tags and digests.
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const URI_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

interface ReleaseArgs {
  readonly env: string;
  readonly imageTag: string | undefined;
  readonly imageDigest: string | undefined;
  readonly imageRepository: string | undefined;
  readonly lock: string | undefined;
  readonly model: boolean;
  readonly verify: boolean;
  readonly out: string | undefined;
}

function parse(argv: string[]): ReleaseArgs | 'help' {
  let v;
  try {
    v = parseArgs({
      args: argv,
      options: {
        env: { type: 'string' },
        'image-tag': { type: 'string' },
        'image-digest': { type: 'string' },
        'image-repository': { type: 'string' },
        lock: { type: 'string' },
        'no-model': { type: 'boolean' },
        verify: { type: 'boolean' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (v.help === true) return 'help';
  if (v.env === undefined) throw new UsageError('--env is required');
  const tag = v['image-tag'];
  const digest = v['image-digest'];
  if (tag === undefined && digest === undefined) throw new UsageError('--image-tag or --image-digest is required');
  if (tag !== undefined && !TAG.test(tag))
    throw new UsageError(`--image-tag ${JSON.stringify(tag)} is not a valid image tag`);
  if (digest !== undefined && !DIGEST.test(digest))
    throw new UsageError(`--image-digest ${JSON.stringify(digest)} is not sha256:<64 hex>`);
  const model = v['no-model'] !== true;
  if (model && v.lock === undefined) {
    throw new UsageError(
      '--lock FILE is required: the release lock model:publish wrote (releases/<name>.lock.json); ' +
        'model.lock.json is the bundled default that npm start serves, not a release. Or pass --no-model',
    );
  }
  if (!model && v.lock !== undefined) throw new UsageError('--lock and --no-model exclude each other');
  if (!model && v.verify === true) throw new UsageError('--verify checks a model: it needs --lock, not --no-model');
  const cwd = process.env.INIT_CWD ?? process.cwd();
  return {
    env: v.env,
    imageTag: tag,
    imageDigest: digest,
    imageRepository: v['image-repository'],
    lock: v.lock === undefined ? undefined : path.resolve(cwd, v.lock),
    model,
    verify: v.verify === true,
    out: v.out === undefined || v.out === '-' ? undefined : path.resolve(cwd, v.out),
  };
}

async function environments(chartDir: string): Promise<string[]> {
  const files = await readdir(chartDir);
  return files.flatMap((f) => /^values-(.+)\.yaml$/.exec(f)?.[1] ?? []).sort();
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const chartDir = path.join(projectRoot(), 'chart');
  // One of the chart's overlays by name, nothing else: the name goes into a path and into the
  // file's header comment (a newline there would write live YAML).
  const known = await environments(chartDir);
  if (!known.includes(args.env))
    throw new UsageError(
      `--env ${JSON.stringify(args.env)}: not one of the chart's environments (${known.join(', ')}; each a chart/values-ENV.yaml)`,
    );

  const image: Record<string, string> = {};
  if (args.imageRepository !== undefined) image.repository = args.imageRepository;
  if (args.imageTag !== undefined) image.tag = args.imageTag;
  if (args.imageDigest !== undefined) image.digest = args.imageDigest;
  const values: Record<string, unknown> = { image };

  let source = 'image only: the pods serve the lock baked into the image';
  if (args.model && args.lock !== undefined) {
    const lock = await readLockFile(args.lock);
    // readLockFile resolves a relative uri against the lock's own path; the raw text tells.
    const raw = JSON.parse(await readFile(args.lock, 'utf8')) as { uri: string };
    if (!URI_SCHEME.test(raw.uri)) {
      throw new LockError(
        `${args.lock} names ${raw.uri}, a file relative to the lock, which a pod cannot reach: ` +
          'publish the model first (npm run model:publish -- <file> s3://bucket/key), or pass --no-model to serve the lock baked into the image',
      );
    }
    if (args.verify) {
      const { stored } = await verifyRelease(loadConfig(process.env).s3, lock.uri, lock);
      process.stderr.write(
        `verified: ${lock.uri} holds ${stored.bytes} bytes, md5 ${stored.md5 ?? '?'}${stored.sha256 === undefined ? '' : `, sha256 ${stored.sha256}`}\n`,
      );
    }
    const { values: model, omitted } = modelValues(lock, await chartModelValues(chartDir));
    if (omitted.length > 0)
      process.stderr.write(`note: this chart takes no ${omitted.join(', ')}: left out of the values\n`);
    values.model = model;
    const shown = path.relative(projectRoot(), args.lock);
    source = `model from ${shown.startsWith('..') ? args.lock : shown} (${lock.bytes ?? '?'} bytes)${args.verify ? ', verified in S3' : ''}`;
  }

  const header =
    `# Release values for ${args.env}: written by npm run release:values; ${source.replace(/[\r\n\u0085\u2028\u2029]/g, ' ')}.\n` +
    `#   helm upgrade --install fasttext-edge chart -f chart/values-${args.env}.yaml -f <this file>\n`;
  const text = header + YAML.stringify(values, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' });
  if (args.out === undefined) {
    process.stdout.write(text);
  } else {
    try {
      await writeFile(args.out, text);
    } catch (err) {
      throw new UsageError(`--out ${args.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    process.stderr.write(`wrote ${args.out}\n`);
  }
  return 0;
}

runCli('release:values', USAGE, main, {
  usage: [LockError, ConfigError],
  failure: [ReleaseMismatchError, SourceError],
});
