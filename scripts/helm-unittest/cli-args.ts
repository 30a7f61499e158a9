// The command line of `helm unittest [flags] CHART...` (cobra/pflag conventions: `-f x`, `-fx`,
// `--file x`, `--file=x`, repeatable list flags, `--flag=false` for booleans).
import { DEFAULT_TEST_FILES } from './runner.js';

export interface CliOptions {
  readonly charts: string[];
  readonly testFiles: string[];
  readonly valuesFiles: string[];
  readonly strict: boolean;
  readonly failFast: boolean;
  readonly withSubcharts: boolean;
  readonly skipSchemaValidation: boolean;
  /** undefined: colour when stdout is a terminal. */
  readonly color: boolean | undefined;
  readonly outputFile: string | undefined;
  readonly outputType: string;
  readonly updateSnapshot: boolean;
  readonly debug: boolean;
  readonly help: boolean;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type BoolFlag =
  | 'strict'
  | 'failfast'
  | 'with-subchart'
  | 'skip-schema-validation'
  | 'color'
  | 'update-snapshot'
  | 'debugPlugin'
  | 'help';
type ListFlag = 'file' | 'values';
type StringFlag = 'output-file' | 'output-type' | 'chart-tests-path';

const SHORT: Record<string, BoolFlag | ListFlag | StringFlag> = {
  f: 'file',
  v: 'values',
  q: 'failfast',
  s: 'with-subchart',
  o: 'output-file',
  t: 'output-type',
  u: 'update-snapshot',
  d: 'debugPlugin',
  h: 'help',
};
const BOOLS = new Set<string>([
  'strict',
  'failfast',
  'with-subchart',
  'skip-schema-validation',
  'color',
  'update-snapshot',
  'debugPlugin',
  'help',
]);
const LISTS = new Set<string>(['file', 'values']);
const STRINGS = new Set<string>(['output-file', 'output-type', 'chart-tests-path']);

function parseBool(name: string, text: string): boolean {
  if (['true', '1', 't', 'T', 'TRUE', 'True'].includes(text)) return true;
  if (['false', '0', 'f', 'F', 'FALSE', 'False'].includes(text)) return false;
  throw new UsageError(
    `invalid argument "${text}" for "--${name}" flag: strconv.ParseBool: parsing "${text}": invalid syntax`,
  );
}

export function parseCliArgs(argv: readonly string[]): CliOptions {
  const bools = new Map<string, boolean>();
  const lists: Record<ListFlag, string[]> = { file: [], values: [] };
  const strings = new Map<string, string>();
  const charts: string[] = [];
  let i = 0;
  const takeValue = (name: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    i += 1;
    const value = argv[i];
    if (value === undefined) throw new UsageError(`flag needs an argument: --${name}`);
    return value;
  };
  const apply = (name: string, inline: string | undefined): void => {
    if (BOOLS.has(name)) bools.set(name, inline === undefined ? true : parseBool(name, inline));
    else if (LISTS.has(name)) lists[name as ListFlag].push(takeValue(name, inline));
    else if (STRINGS.has(name)) strings.set(name, takeValue(name, inline));
    else throw new UsageError(`unknown flag: --${name}`);
  };
  for (; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      charts.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      apply(eq >= 0 ? arg.slice(2, eq) : arg.slice(2), eq >= 0 ? arg.slice(eq + 1) : undefined);
    } else if (arg.startsWith('-') && arg.length > 1) {
      let j = 1;
      while (j < arg.length) {
        const letter = arg[j] ?? '';
        const name = SHORT[letter];
        if (name === undefined) throw new UsageError(`unknown shorthand flag: '${letter}' in ${arg}`);
        if (BOOLS.has(name)) {
          if (arg[j + 1] === '=') {
            apply(name, arg.slice(j + 2));
            break;
          }
          apply(name, undefined);
          j += 1;
        } else {
          const rest = arg.slice(j + 1).replace(/^=/, '');
          apply(name, rest === '' ? undefined : rest);
          break;
        }
      }
    } else {
      charts.push(arg);
    }
  }
  if (strings.has('chart-tests-path')) throw new UsageError('--chart-tests-path is not supported by this runner');
  return {
    charts,
    testFiles: lists.file.length > 0 ? lists.file : [DEFAULT_TEST_FILES],
    valuesFiles: lists.values,
    strict: bools.get('strict') ?? false,
    failFast: bools.get('failfast') ?? false,
    withSubcharts: bools.get('with-subchart') ?? true,
    skipSchemaValidation: bools.get('skip-schema-validation') ?? false,
    color: bools.get('color'),
    outputFile: strings.get('output-file'),
    outputType: strings.get('output-type') ?? 'XUnit',
    updateSnapshot: bools.get('update-snapshot') ?? false,
    debug: bools.get('debugPlugin') ?? false,
    help: bools.get('help') ?? false,
  };
}

export const USAGE = `Running chart unittest written in YAML (helm-unittest compatible; renders with the real helm).

Usage:
  npm run --silent helm-unittest -- [flags] CHART [...]

Flags:
      --color                    enforce printing colored output even stdout is not a tty. Set to false to disable color
  -q, --failfast                 directly quit testing, when a test is failed
  -f, --file stringArray         glob paths of test files location, default to tests/*_test.yaml
  -h, --help                     help for unittest
  -o, --output-file string       the file where testresults are written (with -t JUnit)
  -t, --output-type string       the file-format of --output-file; this runner writes JUnit (default "XUnit")
      --skip-schema-validation   skip values schema validation when rendering the chart
      --strict                   strict parse the testsuites
  -v, --values stringArray       absolute or glob paths of values files location to override helmchart values
  -s, --with-subchart charts     include tests of the subcharts within charts folder (default true)

Environment:
  HELM_MAJOR=3|4                 which helm renders (default 4)
  HELM_UNITTEST_CONCURRENCY=N    helm processes at once (default 2)
`;
