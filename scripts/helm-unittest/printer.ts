// Console output in upstream's layout: the chart header, one PASS/FAIL/SKIP line per suite with
// the failing tests and assertion details under it, and the summary block. Colours follow
// fatih/color as upstream uses it: on for a terminal, forced on or off by --color.
import path from 'node:path';
import type { SuiteResult, TestResult } from './results.js';

const STYLE = {
  successBg: '42;30',
  dangerBg: '41;37',
  warningBg: '43;30',
  danger: '31',
  warning: '33',
  highlight: '1',
  faint: '2',
} as const;

type Style = keyof typeof STYLE;

export interface Counting {
  passed: number;
  failed: number;
  errored: number;
  skipped: number;
}

export function emptyCounting(): Counting {
  return { passed: 0, failed: 0, errored: 0, skipped: 0 };
}

export class Printer {
  constructor(
    private readonly write: (text: string) => void,
    private readonly colored: boolean,
  ) {}

  private paint(style: Style, text: string): string {
    return this.colored ? `\x1b[${STYLE[style]}m${text}\x1b[0m` : text;
  }

  /** Upstream's Println: tabs before the first line only. */
  println(content: string, indent = 0): void {
    this.write(`${'\t'.repeat(indent)}${content}\n`);
  }

  chartHeader(name: string, chartPath: string): void {
    this.println(`\n### Chart [ ${this.paint('highlight', name)} ] ${this.paint('faint', chartPath)}\n`);
  }

  erroredChartHeader(error: string): void {
    this.println(`\n### ${this.paint('danger', 'Error: ')} ${error}\n`);
  }

  suite(result: SuiteResult): void {
    const label = result.skipped
      ? this.paint('warningBg', ' SKIP ')
      : result.passed
        ? this.paint('successBg', ' PASS ')
        : this.paint('dangerBg', ' FAIL ');
    let where = '';
    if (result.definitionFile !== '') {
      const dir = path.dirname(result.definitionFile).split(path.sep).join('/');
      where = this.paint('faint', `${dir}/`) + path.basename(result.definitionFile);
    }
    this.println(`${label} ${this.paint('highlight', result.name)}\t${where}`);
    if (result.execError !== undefined) {
      this.println(this.paint('highlight', '- Execution Error: '), 1);
      this.println(`${result.execError}\n`, 2);
      return;
    }
    for (const test of result.tests) this.test(test);
  }

  private test(result: TestResult): void {
    if (result.passed) return;
    if (result.skipped) {
      this.println(
        `${this.paint('highlight', '- ')}${this.paint('warningBg', 'SKIPPED')}${this.paint('warning', ` '${result.name}'`)}`,
        1,
      );
      return;
    }
    if (result.execError !== undefined) {
      this.println(this.paint('highlight', `- ${result.name}`), 1);
      this.println(this.paint('highlight', `Error: ${result.execError}\n`), 2);
      return;
    }
    this.println(this.paint('danger', `- ${result.name}\n`), 1);
    for (const assertion of result.assertions) {
      if (assertion.passed) continue;
      this.println(
        this.paint('danger', `- asserts[${assertion.index}]${assertion.not ? ' NOT' : ''} \`${assertion.type}\` fail`),
        2,
      );
      for (const line of assertion.failInfo) this.println(line, 3);
      this.println('');
    }
  }

  private counting(counting: Counting): string {
    let text = counting.failed > 0 ? this.paint('danger', `${counting.failed} failed, `) : '';
    if (counting.errored > 0) text += `${counting.errored} errored, `;
    if (counting.skipped > 0) {
      return `${text}${counting.passed} passed, ${counting.skipped} skipped, ${counting.passed + counting.failed + counting.skipped} total`;
    }
    return `${text}${counting.passed} passed, ${counting.passed + counting.failed} total`;
  }

  summary(charts: Counting, suites: Counting, tests: Counting, elapsedMs: number): void {
    this.println(
      `\nCharts:      ${this.counting(charts)}\nTest Suites: ${this.counting(suites)}\nTests:       ${this.counting(tests)}\n` +
        `Snapshot:    0 passed, 0 total\nTime:        ${goDuration(elapsedMs)}\n`,
    );
  }
}

/** Go's time.Duration String() for a run time. */
export function goDuration(ms: number): string {
  const trim = (text: string): string => text.replace(/\.?0+$/, '');
  if (ms >= 1000) return `${trim((ms / 1000).toFixed(9))}s`;
  return `${trim(ms.toFixed(6))}ms`;
}
