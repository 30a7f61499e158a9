// Runs one of scripts/*.ts the way `npm run <name> -- ...` does (node --import tsx, from the
// project root, INIT_CWD = where the user stands), as a supervised child: killed by its pid
// when it overruns its deadline.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../app/config.js';
import { S3RVER_CREDENTIALS } from '../helpers/s3.js';

export interface ScriptRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface ScriptOptions {
  /** Extra environment (on top of PATH and HOME only: nothing leaks in from the caller). */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly timeoutMs: number;
}

/** The environment that points the S3 scripts at an s3rver on `endpoint`. */
export function s3rverEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    S3_ENDPOINT: endpoint,
    S3_FORCE_PATH_STYLE: 'true',
  };
}

export function runScript(script: string, args: readonly string[], options: ScriptOptions): Promise<ScriptRun> {
  const file = path.join(projectRoot(), 'scripts', script);
  const cwd = options.cwd ?? projectRoot();
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
      cwd: projectRoot(),
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        INIT_CWD: cwd,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not finish within ${options.timeoutMs} ms\n${stderr}`));
    }, options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}
