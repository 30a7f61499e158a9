// The beforeSpawn hook as the pool runs it: bounded by the load timeout (every wait has a
// deadline), a rejection logged and reported through onModelRejected, then rethrown.
import type { FastTextPoolOptions } from './pool-options.js';

type HookOptions = Pick<FastTextPoolOptions, 'beforeSpawn' | 'onModelRejected' | 'log'>;

/**
 * Resolves when the hook accepts the model file (or there is no hook), with what the hook
 * resolved with; rejects with the reason otherwise.
 */
export async function checkModel(opts: HookOptions, modelPath: string, timeoutMs: number): Promise<unknown> {
  const hook = opts.beforeSpawn;
  if (hook === undefined) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the model check did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([hook(modelPath), timeout]);
  } catch (err) {
    const reason = `model rejected before spawning fastText: ${err instanceof Error ? err.message : String(err)}`;
    opts.log?.error({ model: modelPath, reason }, 'model rejected');
    try {
      opts.onModelRejected?.(reason);
    } catch (cbErr) {
      opts.log?.error({ err: cbErr }, 'onModelRejected callback threw');
    }
    throw new Error(reason, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
