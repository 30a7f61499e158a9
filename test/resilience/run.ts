// `npm run test:resilience`: runs the scenario files (*.resilience.ts) with ava under their own
// configuration, one file at a time, then prints one table of every scenario's outcome and
// the checks behind it, and exits with ava's status. Extra arguments go to ava (e.g. a file).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/service.js';
import { machine } from './harness/fixture.js';
import { formatChecks, formatTable, readRows } from './harness/report.js';
import { timeScaleFromEnv } from './harness/scale.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'fasttext-edge-resilience-'));
const results = path.join(dir, 'results.jsonl');
const started = Date.now();
const machineBefore = machine();
const ava = path.join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
const child = spawn(
  process.execPath,
  [ava, '--config', path.join('test', 'resilience', 'ava.config.mjs'), ...process.argv.slice(2)],
  {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, RESILIENCE_RESULTS: results },
  },
);
const forward = (signal: NodeJS.Signals): void => {
  child.kill(signal);
};
process.on('SIGINT', forward);
process.on('SIGTERM', forward);

child.once('exit', (code, signal) => {
  const rows = readRows(results);
  rmSync(dir, { recursive: true, force: true });
  const scale = timeScaleFromEnv();
  const out = [
    '',
    `Resilience scenarios: ${scale.describe()} (RESILIENCE_SCALE; the overload scenario keeps real probe timeouts)`,
    `machine: ${machineBefore} at the start, ${machine()} at the end; ${((Date.now() - started) / 1000).toFixed(0)} s in all`,
    '',
    formatTable(rows),
    '',
    formatChecks(rows),
    '',
  ];
  process.stdout.write(out.join('\n'));
  process.exit(code ?? (signal === null ? 1 : 128 + (os.constants.signals[signal] ?? 0)));
});
