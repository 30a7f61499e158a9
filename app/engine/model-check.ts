// The model file hooks as the pool runs them, each bounded by the load timeout (every wait has
// a deadline): beforeSpawn, whose rejection is logged, reported through onModelRejected and
// rethrown; and afterLoad, whose rejection kills the child that loaded (or fails the start).
// The label list read at start passes both, like a child.
import { readModelHeader } from './model-header.js';
import type { FastTextPoolOptions } from './pool-options.js';

type HookOptions = Pick<FastTextPoolOptions, 'beforeSpawn' | 'afterLoad' | 'onModelRejected' | 'log'>;

async function withDeadline<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves when the hook accepts the model file (or there is no hook), with what the hook
 * resolved with; rejects with the reason otherwise.
 */
export async function checkModel(opts: HookOptions, modelPath: string, timeoutMs: number): Promise<unknown> {
  const hook = opts.beforeSpawn;
  if (hook === undefined) return undefined;
  try {
    return await withDeadline(hook(modelPath), timeoutMs, 'the model check');
  } catch (err) {
    const reason = `model rejected before spawning fastText: ${err instanceof Error ? err.message : String(err)}`;
    opts.log?.error({ model: modelPath, reason }, 'model rejected');
    try {
      opts.onModelRejected?.(reason);
    } catch (cbErr) {
      opts.log?.error({ err: cbErr }, 'onModelRejected callback threw');
    }
    throw new Error(reason, { cause: err });
  }
}

/** Resolves when afterLoad accepts what was read after `checked` (or there is no hook). */
export async function checkLoaded(
  opts: HookOptions,
  modelPath: string,
  checked: unknown,
  timeoutMs: number,
): Promise<void> {
  const hook = opts.afterLoad;
  if (hook !== undefined) await withDeadline(hook(modelPath, checked), timeoutMs, 'the check after the load');
}

/**
 * The label list, read in JS from the file's dictionary (no `fasttext dump`: one full model
 * load fewer), between the same two checks as a child's load.
 */
export async function readCheckedLabels(
  opts: HookOptions,
  modelPath: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<readonly string[]> {
  const checked = await checkModel(opts, modelPath, timeoutMs);
  const { labels } = await readModelHeader(modelPath, signal);
  await checkLoaded(opts, modelPath, checked, timeoutMs);
  return labels;
}
