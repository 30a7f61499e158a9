// Before a child loads the model file, the file must still be the one verified. An lstat
// identity (device, inode, size, mtime, ctime) that did not move is taken as proof: any
// write moves mtime/ctime, any replacement moves the inode. A moved identity is
// re-hashed (by fileCheckOf's one digest); bytes that no longer match are removed so they
// are fetched again.
import { unlink } from 'node:fs/promises';
import { hashFile, inspect, sameIdentity } from './cache-file.js';
import { fileCheckOf } from './digests.js';
import { errorMessage, ModelStoreError } from './errors.js';
import type { ModelLogger, VerifiedModel } from './types.js';

function sameModel(a: VerifiedModel, b: VerifiedModel): boolean {
  return a.md5 === b.md5 && a.sha256 === b.sha256;
}

export class Rechecker {
  private readonly pending = new Map<string, Promise<VerifiedModel>>();
  /** The latest verified state of each file handed out, by path. */
  private readonly known = new Map<string, VerifiedModel>();

  constructor(private readonly logger: ModelLogger) {}

  /** Records a file just verified, so a recheck compares against its identity. */
  remember(model: VerifiedModel): void {
    this.known.set(model.path, model);
  }

  /** Concurrent rechecks of one file (children spawning together) share one look. */
  recheck(model: VerifiedModel): Promise<VerifiedModel> {
    const running = this.pending.get(model.path);
    if (running !== undefined) return running;
    const work = this.check(model).finally(() => this.pending.delete(model.path));
    this.pending.set(model.path, work);
    return work;
  }

  private async check(model: VerifiedModel): Promise<VerifiedModel> {
    const known = this.known.get(model.path);
    const base = known !== undefined && sameModel(known, model) ? known : model;
    let entry;
    try {
      entry = await inspect(model.path);
    } catch (err) {
      return this.changed(model, errorMessage(err));
    }
    if (entry.kind === 'absent') {
      this.known.delete(model.path);
      throw new ModelStoreError('model_changed', `${model.path} is gone; to be fetched again`, false);
    }
    if (entry.kind === 'symlink') return this.changed(model, 'replaced by a symbolic link');
    if (sameIdentity(entry.identity, base.identity)) return base;
    const check = fileCheckOf(base);
    const hashed = await hashFile(model.path, check.algorithm).catch(() => undefined);
    if (hashed === undefined) return this.changed(model, 'changed while it was re-hashed');
    if (hashed.digest !== check.digest) {
      return this.changed(
        model,
        `now hashes to ${check.algorithm} ${hashed.digest} (${hashed.bytes} bytes), verified as ${check.digest}`,
      );
    }
    this.logger.info({ path: model.path, md5: base.md5 }, 'model file touched but unchanged: re-hash matches');
    const updated: VerifiedModel = { ...base, identity: hashed.identity };
    this.known.set(model.path, updated);
    return updated;
  }

  private async changed(model: VerifiedModel, why: string): Promise<never> {
    this.known.delete(model.path);
    // Said as it happened: a read-only cache keeps the file (the next check refuses it again).
    const removal = await unlink(model.path).then(
      () => 'removed',
      (err: NodeJS.ErrnoException) =>
        err.code === 'ENOENT' ? 'gone' : `could not be removed (${err.code ?? 'error'})`,
    );
    this.logger.error({ path: model.path, md5: model.md5, why, removal }, `verified model file changed; ${removal}`);
    throw new ModelStoreError('model_changed', `${model.path}: ${why}; ${removal}, to be fetched again`, false);
  }
}
