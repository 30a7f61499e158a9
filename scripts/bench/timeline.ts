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
    what: "'verifying' phase (cache hit: the MD5 pass starts; download: the copy is complete)",
    match: (e) => e.event === 'model_phase' && e.phase === 'verifying',
  },
  {
    what: 'model MD5 verified',
    match: (e) => e.msg === 'model cache hit, MD5 verified' || e.msg === 'model downloaded and verified',
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

/** The service logged a verified MD5 equal to `md5` for the file it loads. */
export function md5Verified(lines: readonly string[], md5: string): boolean {
  return lines.some((line) => {
    const e = parse(line);
    return (
      e !== null &&
      e.md5 === md5 &&
      (e.msg === 'model cache hit, MD5 verified' || e.msg === 'model downloaded and verified')
    );
  });
}

/** The in-service MD5 time: the cache hit's own verifyMs, or null when it downloaded. */
export function verifyMsOf(lines: readonly string[]): number | null {
  for (const line of lines) {
    const e = parse(line);
    if (e?.msg === 'model cache hit, MD5 verified' && typeof e.verifyMs === 'number') return e.verifyMs;
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
