// Where a service start's time goes, from its own JSON log lines: each line's timestamp
// (pino's `time`, wall clock) minus the spawn's wall-clock time, both read on this machine.
import type { TimelineEvent } from './results.js';

interface LogEntry {
  readonly time?: string | number;
  readonly event?: string;
  readonly phase?: string;
  readonly msg?: string;
  readonly md5?: string;
  readonly k?: number;
  readonly loadMs?: number;
  readonly verifyMs?: number;
  readonly verifiedBy?: string;
}

function parse(line: string): LogEntry | null {
  if (!line.startsWith('{')) return null;
  try {
    return JSON.parse(line) as LogEntry;
  } catch {
    return null;
  }
}

function epochOf(entry: LogEntry): number {
  return typeof entry.time === 'number' ? entry.time : Date.parse(entry.time ?? '');
}

/** Which log line marks which step of a start; the first match of each is kept. */
const STEPS: readonly { what: string; match: (e: LogEntry) => boolean }[] = [
  { what: 'first log line (config read, model load started; HTTP stack not imported yet)', match: () => true },
  { what: 'listening (HTTP stack imported, both ports bound)', match: (e) => e.event === 'listening' },
  {
    what: "'verifying' phase (cache hit: the hash pass starts; download: the copy is complete)",
    match: (e) => e.event === 'model_phase' && e.phase === 'verifying',
  },
  {
    what: "model verified (cache hit: by the lock's SHA-256, or its MD5 without one; download: both)",
    match: (e) => e.msg === 'model cache hit, verified' || e.msg === 'model downloaded and verified',
  },
  {
    what: 'engine starting (first child spawned)',
    match: (e) => e.event === 'model_phase' && e.phase === 'engine_starting',
  },
  { what: 'first k=1 child answered its probe', match: (e) => e.msg === 'fastText process ready' && e.k === 1 },
  { what: 'engine ready (labels read)', match: (e) => e.msg === 'fastText engine ready' },
  { what: 'lifecycle ready', match: (e) => e.event === 'ready' },
];

export function timelineOf(lines: readonly string[], spawnedEpochMs: number): TimelineEvent[] {
  const entries = lines.map(parse).filter((e): e is LogEntry => e !== null && Number.isFinite(epochOf(e)));
  const out: TimelineEvent[] = [];
  for (const step of STEPS) {
    const found = entries.find(step.match);
    if (found !== undefined) out.push({ what: step.what, ms: epochOf(found) - spawnedEpochMs });
  }
  return out.sort((a, b) => a.ms - b.ms);
}

/**
 * How the service verified the file of the lock whose MD5 is `md5`: 'md5' or 'sha256' for a
 * cache hit (the lock's SHA-256 when it has one), 'download' (both digests on the way in),
 * or null when it logged no verification of that file.
 */
export function verifiedBy(lines: readonly string[], md5: string): 'md5' | 'sha256' | 'download' | null {
  for (const line of lines) {
    const e = parse(line);
    if (e === null || e.md5 !== md5) continue;
    if (e.msg === 'model downloaded and verified') return 'download';
    if (e.msg === 'model cache hit, verified' && (e.verifiedBy === 'md5' || e.verifiedBy === 'sha256'))
      return e.verifiedBy;
  }
  return null;
}

/** The in-service hash time of a cache hit (its own verifyMs), or null when it downloaded. */
export function verifyMsOf(lines: readonly string[]): number | null {
  for (const line of lines) {
    const e = parse(line);
    if (e?.msg === 'model cache hit, verified' && typeof e.verifyMs === 'number') return e.verifyMs;
  }
  return null;
}

/** Each child's load time, from its "fastText process ready" line. */
export function childLoadsOf(lines: readonly string[]): { k: number; loadMs: number }[] {
  const out: { k: number; loadMs: number }[] = [];
  for (const line of lines) {
    const e = parse(line);
    if (e?.msg === 'fastText process ready' && typeof e.k === 'number' && typeof e.loadMs === 'number')
      out.push({ k: e.k, loadMs: e.loadMs });
  }
  return out;
}
