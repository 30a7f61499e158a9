// `npm run --silent helm -- <args>`: runs the real helm chosen by HELM_MAJOR (3 or 4, default 4),
// passing stdio through and exiting with helm's status.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { helmBinary, helmMajorFromEnv } from './helm-binary.js';

async function main(): Promise<number> {
  const binary = await helmBinary(helmMajorFromEnv());
  const child = spawn(binary, process.argv.slice(2), { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal])));
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`helm: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
