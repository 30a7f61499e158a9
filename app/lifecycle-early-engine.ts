// An early engine on a cached model file: the store hashes the file (about 1.8 s a GiB) while
// the first child loads it (about 0.8 s a GiB), instead of one after the other. Nothing is
// served from it before the hash matches. It is kept only if the verified file is the one it
// loaded (same path and identity when found, at each spawn, through the hash, and after each
// child's load); anything else stops it. Until it is adopted, its refusals and restarts are
// its own: they neither change readiness nor count as the serving engine's. Measured and
// argued: docs/architecture.md (Start).
import type { Classifier } from './engine/classifier.js';
import type { EngineHooks } from './lifecycle-deps.js';
import type { Logger } from './logger.js';
import { sameIdentity, unchangedFile } from './model/cache-file.js';
import type { ModelCandidate, VerifiedModel } from './model/types.js';

export interface Early {
  readonly engine: Classifier;
  readonly candidate: ModelCandidate;
  started: Promise<void>;
}

export class EarlyEngine {
  private early: Early | undefined;
  /** The engine once adopted: from then on its hooks are the serving engine's. */
  private adopted: Classifier | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly createEngine: (hooks: EngineHooks) => Classifier,
    private readonly logger: Logger,
  ) {}

  /** The file the early engine may spawn on before the hash ends (its beforeSpawn check). */
  get candidate(): ModelCandidate | undefined {
    return this.early?.candidate;
  }

  /** The store is about to hash a cached file: the engine starts loading it meanwhile. */
  begin(candidate: ModelCandidate, hooks: EngineHooks): void {
    if (this.early !== undefined) return;
    // The hooks run only once the engine exists (the pool calls none while it is built).
    const engine: Classifier = this.createEngine({
      ...hooks,
      onRestart: (reason) => {
        if (engine === this.adopted) hooks.onRestart(reason);
      },
      onModelRejected: (reason) => {
        if (engine === this.adopted) hooks.onModelRejected(reason);
        else if (engine === this.early?.engine) void this.discard(`a spawn was refused: ${reason}`);
      },
    });
    // Set before start(): its beforeSpawn asks for the candidate.
    const early: Early = { engine, candidate, started: Promise.resolve() };
    this.early = early;
    early.started = engine.start(candidate.path);
    // Read if the engine is adopted; a discarded one is stopped unread.
    early.started.catch(() => undefined);
    this.logger.info(
      { event: 'early_engine_start', path: candidate.path, bytes: candidate.identity.size },
      'starting fastText on the cached model while it is hashed; nothing is served before it matches the lock',
    );
  }

  /**
   * The store's answer: the early engine if it started on `model`'s very file (the caller
   * then awaits `loaded`), else undefined, the early engine stopped.
   */
  async adopt(model: VerifiedModel | undefined): Promise<Early | undefined> {
    const early = this.early;
    if (early === undefined) return undefined;
    if (model === undefined) {
      await this.discard('no file was verified');
      return undefined;
    }
    if (model.path !== early.candidate.path || !sameIdentity(model.identity, early.candidate.identity)) {
      await this.discard('the verified file is not the one it started on');
      return undefined;
    }
    this.early = undefined;
    this.adopted = early.engine;
    return early;
  }

  /**
   * The adopted engine's start: rejects as engine.start() does; false (the engine stopped)
   * when the file no longer has the identity it was hashed with once the first child loaded.
   */
  async loaded(early: Early): Promise<boolean> {
    await early.started;
    if (await unchangedFile(early.candidate.path, early.candidate.identity)) return true;
    this.logger.warn(
      { event: 'early_engine_discarded', path: early.candidate.path },
      'the model file changed while fastText loaded it; starting again',
    );
    await early.engine.stop();
    return false;
  }

  /** Stops the early engine unless it was adopted; resolves when its children are gone. */
  discard(why = 'drain or stop'): Promise<void> {
    const early = this.early;
    if (early !== undefined) {
      this.early = undefined;
      this.logger.info(
        { event: 'early_engine_discarded', path: early.candidate.path, why },
        'stopping the fastText started early on the cached model; it served nothing',
      );
      this.stopping = Promise.all([this.stopping, early.engine.stop()]).then(() => undefined);
    }
    return this.stopping ?? Promise.resolve();
  }
}
