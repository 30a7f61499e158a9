// `npm run --silent helm-unittest -- [flags] CHART...`: the helm-unittest compatible runner.
// Exit status 1 on any failed or errored test, suite or chart (and on usage errors), else 0.
import { helmBinary, helmMajorFromEnv } from '../helm/helm-binary.js';
import { parseCliArgs, USAGE, UsageError } from './cli-args.js';
import { Printer } from './printer.js';
import { Runner } from './runner.js';

function concurrencyFromEnv(): number {
  const raw = process.env.HELM_UNITTEST_CONCURRENCY;
  const value = raw === undefined || raw === '' ? 2 : Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new UsageError(`HELM_UNITTEST_CONCURRENCY must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

function autoColor(): boolean {
  return process.stdout.isTTY && process.env.TERM !== 'dumb' && process.env.NO_COLOR === undefined;
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseCliArgs(argv);
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (options.charts.length === 0) throw new UsageError('requires at least 1 arg(s), only received 0');
  if (options.debug)
    process.stderr.write('note: -d/--debugPlugin is accepted but writes no .debug renders in this runner\n');
  const printer = new Printer((text) => process.stdout.write(text), options.color ?? autoColor());
  const runner = new Runner({
    charts: options.charts,
    testFiles: options.testFiles,
    valuesFiles: options.valuesFiles,
    strict: options.strict,
    failFast: options.failFast,
    withSubcharts: options.withSubcharts,
    skipSchemaValidation: options.skipSchemaValidation,
    helmBinary: await helmBinary(helmMajorFromEnv()),
    concurrency: concurrencyFromEnv(),
    cwd: process.cwd(),
    printer,
    outputFile: options.outputFile,
    outputType: options.outputType,
  });
  const summary = await runner.run();
  return summary.passed ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const text = error instanceof Error ? error.message : String(error);
    process.stderr.write(`Error: ${text}\n`);
    if (error instanceof UsageError) process.stderr.write(`\n${USAGE}`);
    process.exitCode = 1;
  },
);
