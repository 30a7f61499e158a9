// Conformance with upstream helm-unittest: every row of the shared corpus's EXPECTED.md (upstream
// fixture charts and suites, verdicts of the upstream plugin) run through our CLI, checking the
// suite and test counts and the exit status exactly. Under helm 3 every row must match. Under
// helm 4 every row runs too; a row may differ only where it is listed in HELM4_DIFFERENCES, which
// names the suite that compares an exact Helm error text, and the listed difference must be the
// one observed.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, runCli, summaryCounts, type Counts } from './run-cli.js';

// Upstream's fixtures, copied into the repository (MIT; test/fixtures/helm-unittest-conformance/README.md says from where).
const CORPUS =
  process.env.HELM_UNITTEST_CONFORMANCE_DIR ?? path.join(REPO_ROOT, 'test', 'fixtures', 'helm-unittest-conformance');
const OPTIONAL = process.env.CONFORMANCE_OPTIONAL === '1';

interface Row {
  readonly title: string;
  readonly args: string[];
  readonly suites: Counts;
  readonly tests: Counts;
  readonly exitCode: number;
}

function counts(cell: string): Counts {
  const match = /(\d+)\/(\d+)\/(\d+) = (\d+)/.exec(cell);
  if (match === null) throw new Error(`unreadable counts cell: ${cell}`);
  return { passed: Number(match[1]), failed: Number(match[2]), skipped: Number(match[3]), total: Number(match[4]) };
}

function shellWords(command: string): string[] {
  return [...command.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}

/** The verdict table of EXPECTED.md; the exit status is 1 exactly for rows with failures. */
function readExpected(file: string): Row[] {
  const rows: Row[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const command = /^`helm unittest (.+)`$/.exec(cells[2] ?? '');
    if (command === null) continue;
    const suites = counts(cells[3] ?? '');
    const tests = counts(cells[4] ?? '');
    rows.push({
      title: `${cells[1] ?? ''}: helm unittest ${command[1] ?? ''}`,
      args: shellWords(command[1] ?? ''),
      suites,
      tests,
      exitCode: suites.failed > 0 || tests.failed > 0 ? 1 : 0,
    });
  }
  return rows;
}

interface Helm4Difference {
  /** Why the verdict differs; names the suite and the exact error text it compares. */
  readonly reason: string;
  /** The suite file (relative to the corpus) that holds the exact error text. */
  readonly suiteFile: string;
  readonly exactText: string;
  readonly suites: Counts;
  readonly tests: Counts;
  readonly exitCode: number;
}

const HELM4_DIFFERENCES: Readonly<Record<string, Helm4Difference>> = {
  'failing-template: helm unittest failing-template': {
    reason:
      "failing-template/tests/configMap_test.yaml compares failedTemplate.errorMessage with Helm 3's one-line include error; " +
      'Helm 4 prints the same error over four lines ("FILE:7:8\\n  executing ...:\\n    error calling include:\\ntemplate: no template ..."), ' +
      "so upstream's message parser finds no file and the exact comparison fails (errorPattern and {} still pass)",
    suiteFile: 'failing-template/tests/configMap_test.yaml',
    exactText:
      'errorMessage: \'error calling include: template: no template "non-existing-named-template" associated with template "gotpl"\'',
    suites: { passed: 1, failed: 1, skipped: 0, total: 2 },
    tests: { passed: 2, failed: 1, skipped: 0, total: 3 },
    exitCode: 1,
  },
};

const expectedFile = path.join(CORPUS, 'EXPECTED.md');
if (!existsSync(expectedFile)) {
  const reason = `conformance corpus not found at ${CORPUS} (set HELM_UNITTEST_CONFORMANCE_DIR to the folder holding EXPECTED.md)`;
  if (OPTIONAL) {
    test(`helm-unittest conformance SKIPPED (CONFORMANCE_OPTIONAL=1): ${reason}`, (t) => {
      t.log(reason);
      t.pass();
    });
  } else {
    test('helm-unittest conformance corpus is present', (t) => {
      t.fail(`${reason}; set CONFORMANCE_OPTIONAL=1 to report this as skipped instead`);
    });
  }
} else {
  const rows = readExpected(expectedFile);

  test('EXPECTED.md lists the six upstream verdict rows', (t) => {
    t.is(rows.length, 6, rows.map((row) => row.title).join('\n'));
  });

  for (const row of rows) {
    test.serial(
      `helm 3: ${row.title} gives suites ${row.suites.passed}/${row.suites.failed}/${row.suites.skipped}, tests ${row.tests.passed}/${row.tests.failed}/${row.tests.skipped}, exit ${row.exitCode}`,
      async (t) => {
        const run = await runCli(row.args, { cwd: CORPUS, helmMajor: 3 });
        t.log(
          run.stdout
            .split('\n')
            .filter((line) => /^(Charts|Test Suites|Tests|Time):/.test(line))
            .join('\n'),
        );
        t.deepEqual(summaryCounts(run.stdout, 'Test Suites'), row.suites, run.stdout + run.stderr);
        t.deepEqual(summaryCounts(run.stdout, 'Tests'), row.tests, run.stdout + run.stderr);
        t.deepEqual(summaryCounts(run.stdout, 'Charts'), {
          passed: 1 - row.exitCode,
          failed: row.exitCode,
          skipped: 0,
          total: 1,
        });
        t.is(run.code, row.exitCode);
      },
    );
  }

  for (const row of rows) {
    const difference = HELM4_DIFFERENCES[row.title];
    const title =
      difference === undefined
        ? `helm 4: ${row.title} gives the same verdicts as upstream`
        : `helm 4: ${row.title} differs only by the declared exact-error-text suite`;
    test.serial(title, async (t) => {
      const run = await runCli(row.args, { cwd: CORPUS, helmMajor: 4 });
      const want = difference ?? row;
      t.deepEqual(summaryCounts(run.stdout, 'Test Suites'), want.suites, run.stdout + run.stderr);
      t.deepEqual(summaryCounts(run.stdout, 'Tests'), want.tests, run.stdout + run.stderr);
      t.is(run.code, want.exitCode);
      if (difference !== undefined) {
        t.log(difference.reason);
        const failing = run.stdout.split('\n').filter((line) => line.startsWith(' FAIL '));
        t.is(failing.length, 1, run.stdout);
        t.true(
          failing[0]?.endsWith(difference.suiteFile) ?? false,
          `the failing suite is ${difference.suiteFile}: ${failing[0] ?? ''}`,
        );
        t.true(
          readFileSync(path.join(CORPUS, difference.suiteFile), 'utf8').includes(difference.exactText),
          'the suite compares an exact Helm error text',
        );
      }
    });
  }
}
