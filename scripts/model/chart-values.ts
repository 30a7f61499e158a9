// The chart's model.* values for a release lock, limited to what the target chart's schema
// declares (its model object allows no other key, so a value it does not know would make
// helm refuse the whole file).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelLock } from '../../app/model/types.js';

/** The model.* values this chart's schema declares: a values file the chart rejects is no use. */
export async function chartModelValues(chartDir: string): Promise<Set<string>> {
  const schema = JSON.parse(await readFile(path.join(chartDir, 'values.schema.json'), 'utf8')) as {
    properties?: { model?: { properties?: Record<string, unknown> } };
  };
  return new Set(Object.keys(schema.properties?.model?.properties ?? {}));
}

/** The chart's model.* values for a lock; what this chart does not take is left out, and said. */
export function modelValues(
  lock: ModelLock,
  takes: ReadonlySet<string>,
): { values: Record<string, unknown>; omitted: string[] } {
  const all: Record<string, unknown> = { uri: lock.uri, md5: lock.md5 };
  if (lock.name !== undefined) all.name = lock.name;
  if (lock.bytes !== undefined) all.bytes = lock.bytes;
  if (lock.sha256 !== undefined) all.sha256 = lock.sha256;
  // A lock may carry fastText's printed 1.00001 for a certain answer; the chart takes [0, 1].
  if (lock.canaries !== undefined) all.canaries = lock.canaries.map((c) => ({ ...c, score: Math.min(1, c.score) }));
  const values: Record<string, unknown> = {};
  const omitted: string[] = [];
  for (const [key, value] of Object.entries(all)) {
    if (takes.has(key)) values[key] = value;
    else omitted.push(`model.${key}`);
  }
  return { values, omitted };
}
