// Prediction cache (node-cache), keyed by model MD5, k, threshold and text (long texts by
// their SHA-256). Bounded in keys, in bytes (an estimate kept beside node-cache) and by TTL.
// When full, the least recently used entries make room, chosen by CLOCK (second chance): a
// hit only sets a flag on its entry, so the hit path costs what node-cache's get costs;
// eviction moves recently used entries to the back of the ring and drops the first one not
// used since it was last passed. With the doorkeeper on, a text is cached only on its second
// miss (docs/http.md): a flood of distinct texts then costs the cache nothing and evicts nothing.
import { hash, randomInt } from 'node:crypto';
import NodeCache from 'node-cache';
import type { Prediction } from './engine/classifier.js';

/** Texts longer than this are not cached: their keys would cost more memory than they save work. */
const MAX_CACHED_TEXT_CHARS = 2048;
/**
 * Texts longer than this are keyed by their hash (see key()). Measured per hit (Node 24): 200
 * characters 0.50 us as text, 0.71 us hashed; 2,000 characters 3.65 us as text, 1.89 us hashed.
 */
const HASHED_KEY_OVER_CHARS = 256;

/**
 * Heap bytes of one entry besides its key's characters and its predictions: node-cache's
 * wrapper and dictionary slot, the ring's Map slot, the entry object and the predictions
 * array's header (measured on Node 20: 20,000 entries of 2,000-character keys took 2,360
 * heap bytes each).
 */
const ENTRY_OVERHEAD_BYTES = 320;
/** One prediction: the {label, score} object, its score and its label string. */
const PREDICTION_BYTES = 96;

export interface PredictionCacheOptions {
  readonly enabled: boolean;
  readonly maxKeys: number;
  /** Estimated bytes held at most (keys, predictions, bookkeeping). */
  readonly maxBytes: number;
  readonly ttlSeconds: number;
  /** Cache a text only when it misses a second time while its first miss is remembered. */
  readonly doorkeeper?: boolean;
}

/**
 * Slots of the doorkeeper's memory of first misses: 64k fingerprints, 256 KiB outside the
 * heap's object graph. A first miss overwrites whatever shared its slot, so under N distinct
 * misses a second a text is remembered for roughly 65,536 / N seconds (16 s at 4,000/s).
 */
const DOORKEEPER_SLOTS = 1 << 16;

/**
 * 32-bit FNV-1a of a key's UTF-16 units from a per-process random basis, then murmur3's final
 * mix: a fingerprint, never 0 (0 marks an empty slot). The random basis keeps anyone from
 * computing offline which texts share a slot (the key's parts are all public: the model's MD5
 * is on /v1/model), and so from keeping a chosen text out of the cache with a few colliding
 * texts a second.
 */
export function fingerprint(key: string, basis: number): number {
  let h = basis;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0 || 1;
}

interface Entry {
  readonly predictions: readonly Prediction[];
  readonly bytes: number;
  /** Set on every hit, cleared when the eviction hand passes: CLOCK's reference bit. */
  used: boolean;
}

interface OrderSlot {
  readonly key: string;
  readonly entry: Entry;
}

/** The eviction order array drops the slots behind its head once this many are behind it. */
const COMPACT_AFTER = 4096;

/** Any character V8 cannot keep in one byte (a key holding one is stored at two bytes a character). */
const WIDE_CHAR = /[\u0100-\uffff]/;

/** The estimated heap bytes of an entry (checked against the heap by test/unit/prediction-cache.test.ts). */
export function entryBytes(key: string, predictions: readonly Prediction[]): number {
  let labels = 0;
  for (const p of predictions) labels += p.label.length;
  const charBytes = WIDE_CHAR.test(key) ? 2 : 1;
  return ENTRY_OVERHEAD_BYTES + charBytes * key.length + predictions.length * PREDICTION_BYTES + 2 * labels;
}

export class PredictionCache {
  private readonly cache: NodeCache | undefined;
  /** Every entry by key. */
  private readonly ring = new Map<string, Entry>();
  /** Entries in the order the eviction hand visits them, from `head` on; may hold stale slots. */
  private order: Array<OrderSlot | undefined> = [];
  private head = 0;
  private heldBytes = 0;
  /**
   * Fingerprints of keys that missed once and were not cached (direct-mapped, overwritten on
   * collision). A Bloom filter or count-min sketch from a library would answer the same
   * question with more hashing a miss; nothing more than "seen recently?" is needed here.
   */
  private readonly firstMisses: Uint32Array | undefined;
  /** The fingerprints' random basis (see fingerprint()). */
  private readonly basis = randomInt(2 ** 32);

  constructor(private readonly options: PredictionCacheOptions) {
    if (!options.enabled) return;
    if (options.doorkeeper === true) this.firstMisses = new Uint32Array(DOORKEEPER_SLOTS);
    // node-cache's own maxKeys refuses new keys when full; the bound is enforced here by eviction.
    this.cache = new NodeCache({
      stdTTL: options.ttlSeconds,
      checkperiod: Math.max(1, Math.ceil(options.ttlSeconds / 2)),
      maxKeys: -1,
      useClones: false,
    });
    // Every removal (expiry, eviction) comes through 'del': the byte account follows it.
    this.cache.on('del', (key: string, entry: Entry) => {
      if (this.ring.get(key) !== entry) return;
      this.ring.delete(key);
      this.heldBytes -= entry.bytes;
    });
  }

  get enabled(): boolean {
    return this.cache !== undefined;
  }

  /** Estimated bytes held now. */
  get bytes(): number {
    return this.heldBytes;
  }

  /**
   * A text longer than HASHED_KEY_OVER_CHARS is keyed by its SHA-256 (a collision, which would
   * answer one text with another's labels, is not a practical risk), shorter ones by the text
   * itself; the marker after the threshold keeps the two kinds of key apart. An entry then
   * holds 44 key characters, not up to 2,048 (about 500 heap bytes an entry, not 2,400), and
   * every miss that evicts leaves that much less garbage in the old generation (docs/http.md).
   */
  private static key(md5: string, k: number, threshold: number, text: string): string | undefined {
    if (text.length > MAX_CACHED_TEXT_CHARS) return undefined;
    if (text.length <= HASHED_KEY_OVER_CHARS) return `${md5}|${k}|${threshold}|=${text}`;
    return `${md5}|${k}|${threshold}|#${hash('sha256', text, 'base64')}`;
  }

  get(md5: string, k: number, threshold: number, text: string): readonly Prediction[] | undefined {
    if (!this.cache) return undefined;
    const key = PredictionCache.key(md5, k, threshold, text);
    if (key === undefined) return undefined;
    // node-cache's own lookup: a V8 dictionary property load, measured faster than Map.get on
    // these long string keys (0.6-0.8 us against 0.9-1.1 us a hit).
    const entry = this.cache.get<Entry>(key);
    if (entry === undefined) return undefined;
    entry.used = true;
    return entry.predictions;
  }

  set(md5: string, k: number, threshold: number, text: string, predictions: readonly Prediction[]): void {
    if (!this.cache) return;
    const key = PredictionCache.key(md5, k, threshold, text);
    if (key === undefined) return;
    const bytes = entryBytes(key, predictions);
    if (bytes > this.options.maxBytes) return;
    if (this.firstMisses && !this.secondMiss(key)) return;
    if (this.ring.has(key)) this.cache.del(key);
    while (
      this.ring.size > 0 &&
      (this.heldBytes + bytes > this.options.maxBytes || this.ring.size >= this.options.maxKeys)
    )
      this.evictOne();
    const entry: Entry = { predictions, bytes, used: false };
    this.cache.set(key, entry);
    this.ring.set(key, entry);
    this.order.push({ key, entry });
    this.heldBytes += bytes;
    // Expired and replaced entries leave stale slots that no eviction may pass for a long time.
    if (this.order.length - this.head > this.ring.size + COMPACT_AFTER) {
      this.order = this.order
        .slice(this.head)
        .filter((slot) => slot !== undefined && this.ring.get(slot.key) === slot.entry);
      this.head = 0;
    }
  }

  /** Whether the key missed before (it is then forgotten); otherwise remembers this miss. */
  private secondMiss(key: string): boolean {
    const seen = this.firstMisses as Uint32Array;
    const print = fingerprint(key, this.basis);
    const slot = (print ^ (print >>> 16)) & (DOORKEEPER_SLOTS - 1);
    if (seen[slot] === print) {
      seen[slot] = 0;
      return true;
    }
    seen[slot] = print;
    return false;
  }

  /**
   * Drops the first entry, in ring order, not used since the hand last passed it. The ring's
   * order lives in an array walked by a head index, not in the Map: restarting a Map iteration
   * from its front after every eviction walked the holes earlier deletions left there, so each
   * eviction cost more than the last (measured: 7.7, then 27, then 74 us a miss+set over three
   * rounds of 100k unique texts; a 100-text request of unique texts cost 40% of capacity).
   */
  private evictOne(): void {
    while (this.head < this.order.length) {
      const slot = this.order[this.head] as OrderSlot;
      // A passed slot lets its key go at once, not at the next compaction.
      this.order[this.head++] = undefined;
      // An entry expired (TTL) or replaced since it was queued is no longer in the ring.
      if (this.ring.get(slot.key) !== slot.entry) continue;
      if (slot.entry.used) {
        // Second chance: to the back of the ring.
        slot.entry.used = false;
        this.order.push(slot);
        continue;
      }
      this.cache?.del(slot.key);
      break;
    }
    if (this.head >= COMPACT_AFTER && this.head * 2 >= this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  size(): number {
    return this.ring.size;
  }

  /** Slots in the eviction order, stale ones included (bounded: see set()). */
  orderLength(): number {
    return this.order.length - this.head;
  }

  close(): void {
    this.cache?.close();
  }
}
