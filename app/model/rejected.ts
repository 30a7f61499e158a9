// No egress loop on a mismatch: object versions that failed their check, remembered by
// ETag and size. One mismatch may be bytes damaged in transit, so the same version is
// fetched once more. When two fetches of one version hash alike, the object itself is
// bad: it is not fetched again while HEAD shows the same ETag and size, for a cool-off
// that starts at twice the retry cap and doubles with each further identical result (to
// an hour); a new version ends it at once. With the defaults (cap 30 s) that is at most
// 2 full GETs of an unchanged bad object in any 60 s, and a handful an hour, where it was
// one every 15-30 s. Two fetches that hash differently are damage in transit, not a bad
// object, and are never refused. A source that sends no ETag cannot be told apart from a
// republished one, so its objects are never refused either.
import { ModelStoreError } from './errors.js';
import type { ObjectInfo } from './source-types.js';
import type { FetchedObject } from './types.js';

const MAX_COOL_OFF_MS = 60 * 60 * 1000;

interface Rejected {
  readonly info: ObjectInfo;
  readonly error: ModelStoreError;
  readonly fetched: FetchedObject | undefined;
  /** Consecutive fetches of this version that hashed to this same wrong result. */
  readonly times: number;
  readonly at: number;
}

export class RejectedVersions {
  private readonly byKey = new Map<string, Rejected>();

  constructor(
    /** The first cool-off; then doubled per identical result. */
    private readonly coolOffMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records that the version `info` of the object for `key` failed its check with `error`. */
  record(key: string, info: ObjectInfo, error: ModelStoreError): void {
    if (info.etag === undefined) return;
    const before = this.byKey.get(key);
    const same =
      before !== undefined &&
      before.info.etag === info.etag &&
      before.info.bytes === info.bytes &&
      before.fetched?.md5 === error.fetched?.md5 &&
      before.fetched?.sha256 === error.fetched?.sha256;
    this.byKey.set(key, { info, error, fetched: error.fetched, times: same ? before.times + 1 : 1, at: this.now() });
  }

  /** Throws the earlier verdict when HEAD shows a version that is known bad and still cooling off. */
  refuse(key: string, uri: string, info: ObjectInfo): void {
    const rejected = this.byKey.get(key);
    if (rejected === undefined) return;
    if (rejected.info.etag !== info.etag || rejected.info.bytes !== info.bytes) {
      this.byKey.delete(key);
      return;
    }
    if (rejected.times < 2) return;
    const coolOff = Math.min(MAX_COOL_OFF_MS, this.coolOffMs * 2 ** Math.min(20, rejected.times - 2));
    const left = rejected.at + coolOff - this.now();
    if (left <= 0) return;
    const { error } = rejected;
    throw new ModelStoreError(
      error.phase,
      `${error.message} (${uri} is unchanged since, ETag ${info.etag ?? ''}: not downloaded again for ${Math.ceil(left / 1000)} s unless it changes)`,
      true,
      error.fetched,
    );
  }
}
