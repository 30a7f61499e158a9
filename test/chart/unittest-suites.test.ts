// The chart's helm-unittest suites (chart/tests/*_test.yaml), run by the project's
// helm-unittest-compatible runner under helm 3 and helm 4 with --strict: every suite runs,
// every test passes, and the summary's counts add up.
import test from 'ava';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { CHART, HELM_MAJORS, ROOT } from './chart-helm.js';

const RUNNER = path.join(ROOT, 'scripts', 'helm-unittest', 'cli.ts');
// About 20 s a helm major on a quiet machine; generous, so a machine whose cores are busy passes.
const DEADLINE_MS = 240_000;

interface RunnerResult {
  readonly code: number | null;
  readonly output: string;
  /** Killed at DEADLINE_MS: the failure says so instead of comparing a null exit code with 0. */
  readonly killed: boolean;
}

function runSuites(major: number): Promise<RunnerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', RUNNER, '--strict', CHART], {
      cwd: ROOT,
      env: { ...process.env, HELM_MAJOR: String(major) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, DEADLINE_MS);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, killed });
    });
  });
}

/** "Tests:       3 failed, 1 errored, 140 passed, 144 total" -> { failed: 3, errored: 1, passed: 140, total: 144 } */
function summaryLine(output: string, label: string): Record<string, number> {
  const line = new RegExp(`^${label}:\\s+(.+)$`, 'm').exec(output)?.[1];
  if (line === undefined) throw new Error(`no "${label}:" line in the runner's output:\n${output}`);
  const counts: Record<string, number> = {};
  for (const part of line.split(',')) {
    const match = /(\d+) (\w+)/.exec(part.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) counts[match[2]] = Number(match[1]);
  }
  return counts;
}

for (const major of HELM_MAJORS) {
  test(`helm ${major}: every helm-unittest suite of the chart passes`, async (t) => {
    t.timeout(DEADLINE_MS + 10_000);
    const suiteFiles = (await readdir(path.join(CHART, 'tests'))).filter((f) => f.endsWith('_test.yaml'));
    const run = await runSuites(major);
    if (run.killed) {
      t.fail(`the runner was killed after ${DEADLINE_MS / 1000} s (its deadline); what it printed:\n${run.output}`);
      return;
    }
    t.is(run.code, 0, run.output);
    const tests = summaryLine(run.output, 'Tests');
    t.log(
      `helm ${major}: ${String(tests.passed)} of ${String(tests.total)} tests passed in ${suiteFiles.length} suites`,
    );
    t.true((tests.total ?? 0) > 0);
    t.is(tests.passed, tests.total);
    t.is(tests.failed, undefined);
    t.is(tests.errored, undefined);
    t.deepEqual(summaryLine(run.output, 'Test Suites'), { passed: suiteFiles.length, total: suiteFiles.length });
  });
}
