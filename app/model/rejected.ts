// No egress loop on a mismatch: object versions that failed their check, remembered by
// ETag and size. The first failure may be bytes damaged in transit, so the same version
// is fetched once more; after that it is not fetched again while HEAD shows the same
// ETag and size (a republished object, or a restart, clears it). A source that sends no
// ETag cannot be told apart from a republished one, so its objects are never refused.
import { ModelStoreError } from './errors.js';
import type { ObjectInfo } from './source-types.js';

/** Full GETs of one unchanged object version that failed its check before it is refused. */
export const MAX_GETS_OF_A_REJECTED_VERSION = 2;

interface Rejected {
  readonly info: ObjectInfo;
  readonly error: ModelStoreError;
  readonly times: number;
}

export class RejectedVersions {
  private readonly byKey = new Map<string, Rejected>();

  /** Records that the version `info` of the object for `key` failed its check with `error`. */
  record(key: string, info: ObjectInfo, error: ModelStoreError): void {
    if (info.etag === undefined) return;
    const before = this.byKey.get(key);
    const same = before !== undefined && before.info.etag === info.etag && before.info.bytes === info.bytes;
    this.byKey.set(key, { info, error, times: same ? before.times + 1 : 1 });
  }

  /** Throws the earlier verdict when HEAD shows a version already fetched and rejected often enough. */
  refuse(key: string, uri: string, info: ObjectInfo): void {
    const rejected = this.byKey.get(key);
    if (rejected === undefined) return;
    if (rejected.info.etag !== info.etag || rejected.info.bytes !== info.bytes) {
      this.byKey.delete(key);
      return;
    }
    if (rejected.times < MAX_GETS_OF_A_REJECTED_VERSION) return;
    const { error } = rejected;
    throw new ModelStoreError(
      error.phase,
      `${error.message} (${uri} is unchanged since, ETag ${info.etag ?? ''}: not downloaded again until it changes)`,
      true,
      error.fetched,
    );
  }
}
