// The model file the lifecycle serves from: fetched and verified through the provider, rechecked
// before every child spawn, and marked rejected when it is no longer the verified one. Kept apart
// from lifecycle.ts so the file's integrity state has one owner; the lifecycle decides what a
// rejection does to readiness and the engine.
import { setTimeout as delay } from 'node:timers/promises';
import { fetchVerified, type LifecycleDeps, type ModelInfo } from './lifecycle-deps.js';
import { unchangedFile } from './model/cache-file.js';
import type { FetchedObject, FileIdentity, ModelCandidate, VerifiedModel } from './model/types.js';
import type { NotReadyReason } from './readiness.js';

function isIdentity(value: unknown): value is FileIdentity {
  return typeof value === 'object' && value !== null && 'ino' in value && 'ctimeMs' in value;
}

export class ModelSlot {
  /** The model as last verified or rechecked; undefined until a fetch first succeeds. */
  private verified: VerifiedModel | undefined;
  /** What the last complete download hashed to, when it was rejected: /v1/model shows it. */
  private fetched: FetchedObject | undefined;
  /** Why the file stopped being the verified one (a spawn's recheck failed); cleared by a new fetch. */
  private rejection: string | undefined;

  constructor(
    private readonly deps: Pick<LifecycleDeps, 'config' | 'lock' | 'metrics' | 'provider'>,
    /** Drain or stop: a fetch in progress ends, and so does the wait after a failed one. */
    private readonly signal: AbortSignal,
    private readonly onPhase: (phase: NotReadyReason, detail?: string) => void,
  ) {}

  get current(): VerifiedModel | undefined {
    return this.verified;
  }

  get rejected(): string | undefined {
    return this.rejection;
  }

  /** A verified model, or undefined after a failure and its backoff (or an abort). */
  async ensure(onCandidate?: (candidate: ModelCandidate | undefined) => void): Promise<VerifiedModel | undefined> {
    this.onPhase('downloading');
    try {
      this.verified = await fetchVerified(
        this.deps,
        this.signal,
        this.onPhase,
        (fetched) => (this.fetched = fetched),
        onCandidate,
      );
      return this.verified;
    } catch (error) {
      if (this.signal.aborted) return undefined;
      // The store retries on its own; an error escaping it is a bug or a fatal condition.
      this.onPhase('download_failed', error instanceof Error ? error.message : String(error));
      await delay(this.deps.config.model.retryMaxMs, undefined, { signal: this.signal }).catch(() => undefined);
      return undefined;
    }
  }

  /**
   * The engine's beforeSpawn: throws when the file at modelPath is no longer the verified model.
   * Before the first verification, an early engine's `candidate` must still be as found.
   * Resolves with the identity the child may load (loadedUnchanged compares it after the load).
   */
  async recheck(modelPath: string, candidate?: ModelCandidate): Promise<FileIdentity | undefined> {
    const model = this.verified;
    if (model === undefined && candidate !== undefined) {
      if (modelPath !== candidate.path || !(await unchangedFile(candidate.path, candidate.identity)))
        throw new Error(`${modelPath} changed before it was verified; not loaded`);
      return candidate.identity;
    }
    const recheck = this.deps.provider.recheck?.bind(this.deps.provider);
    if (model === undefined || recheck === undefined) return undefined;
    if (modelPath !== model.path)
      throw new Error(`asked to spawn on ${modelPath}, but the verified model is ${model.path}`);
    this.verified = await recheck(model);
    return this.verified.identity;
  }

  /**
   * The engine's afterLoad: the file kept, through the child's load, the identity its spawn
   * was allowed on (a write while the child read it moves mtime/ctime). No identity: no check
   * was made before the spawn (a provider without recheck), so none is made after.
   */
  async loadedUnchanged(modelPath: string, checked: unknown): Promise<void> {
    if (!isIdentity(checked)) return;
    if (!(await unchangedFile(modelPath, checked))) throw new Error(`${modelPath} changed while fastText loaded it`);
  }

  /**
   * Marks the file rejected and returns the cause kept: the first, until a new fetch clears it
   * (the next spawn's check finds the file removed, and "gone" would hide why).
   */
  reject(reason: string): string {
    this.rejection ??= reason;
    return this.rejection;
  }

  clearRejection(): void {
    this.rejection = undefined;
  }

  /** The file's part of /v1/model; before a model is verified, what the last (rejected) download was. */
  info(): Pick<ModelInfo, 'md5' | 'verifiedBy' | 'bytes' | 'fromCache'> {
    const { lock } = this.deps;
    return {
      md5: { expected: lock.md5, actual: this.verified?.md5 ?? this.fetched?.md5 ?? null },
      verifiedBy: this.verified?.verifiedBy ?? null,
      bytes: this.verified?.bytes ?? this.fetched?.bytes ?? lock.bytes ?? null,
      fromCache: this.verified?.fromCache ?? null,
    };
  }
}
