// An early engine on a cached model file: the store hashes the file (about 1.8 s a
// GiB) while the first child loads it (about 0.8 s a GiB), instead of one after the other.
// Nothing is served from it before the hash matches. The engine is kept only if the
// verified file is the one it loaded: same path and the same identity (device, inode, size,
// mtime, ctime) before its spawn, through the hash, and after its load; anything else stops
// it. This is the trust the store's recheck before every later spawn already rests on.
// Measured: docs/architecture.md (Start).
import type { Classifier } from './engine/classifier.js';
import type { Logger } from './logger.js';
import { sameIdentity, unchangedFile } from './model/cache-file.js';
import type { ModelCandidate, VerifiedModel } from './model/types.js';

interface Early {
  readonly engine: Classifier;
  readonly candidate: ModelCandidate;
  readonly started: Promise<void>;
}

export class EarlyEngine {
  private early: Early | undefined;

  constructor(
    private readonly createEngine: () => Classifier,
    private readonly logger: Logger,
  ) {}

  /** The candidate the engine may spawn on before the hash ends (the beforeSpawn check). */
  get candidate(): ModelCandidate | undefined {
    return this.early?.candidate;
  }

  /** The store is about to hash a cached file: the engine starts loading it meanwhile. */
  begin(candidate: ModelCandidate): void {
    if (this.early !== undefined) return;
    const engine = this.createEngine();
    // Set before start(): its beforeSpawn asks for the candidate.
    const early: Early = { engine, candidate, started: Promise.resolve() };
    this.early = early;
    const started = engine.start(candidate.path);
    // Its outcome is read if the engine is adopted; a discarded one is stopped unread.
    started.catch(() => undefined);
    if (this.early === early) this.early = { ...early, started };
    this.logger.info(
      { event: 'early_engine_start', path: candidate.path, bytes: candidate.identity.size },
      'starting fastText on the cached model while its MD5 is computed; nothing is served before it matches',
    );
  }

  /**
   * The store's answer: the engine started on `model`'s very file, or undefined (any early
   * engine is stopped). The caller awaits `started`, then `stillLoadedFile` before serving.
   */
  async adopt(model: VerifiedModel | undefined): Promise<Early | undefined> {
    const early = this.early;
    this.early = undefined;
    if (early === undefined) return undefined;
    const same =
      model !== undefined &&
      model.path === early.candidate.path &&
      sameIdentity(model.identity, early.candidate.identity);
    if (same) return early;
    this.logger.warn(
      { event: 'early_engine_discarded', path: early.candidate.path },
      'the verified model is not the file fastText started on; stopping it',
    );
    await early.engine.stop();
    return undefined;
  }

  /** After the early engine loaded: the file still has the identity it was hashed with. */
  static stillLoadedFile(early: Early): Promise<boolean> {
    return unchangedFile(early.candidate.path, early.candidate.identity);
  }

  /** Drain or stop: an engine not adopted goes. */
  async discard(): Promise<void> {
    const early = this.early;
    this.early = undefined;
    await early?.engine.stop();
  }
}
