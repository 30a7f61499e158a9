// Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by where the
// code lives (a package, a part of this app, Node core, GC). Self time: each sample's
// interval is charged to the function on top of the stack.
import type { ContenderId, ProfileEntry, ProfileSummary } from './results.js';

export interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const PSEUDO = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** A url shortened to what a reader recognises: koa/lib/application.js, app/http/classify.js, node:net. */
export function shortWhere(url: string): string {
  if (url === '') return '';
  if (url.startsWith('node:')) return url;
  const plain = url.replace(/^file:\/\//, '');
  const nm = plain.lastIndexOf('/node_modules/');
  if (nm >= 0) return plain.slice(nm + '/node_modules/'.length);
  const app = /\/(?:dist\/)?((?:app|scripts)\/.*)$/.exec(plain);
  if (app) return app[1] as string;
  return plain;
}

/** The bucket a function's self time is added to. */
export function categoryOf(functionName: string, url: string): string {
  if (PSEUDO.has(functionName)) return functionName === '(root)' ? '(program)' : functionName;
  if (url === '') return 'V8 builtins and native code';
  if (url.startsWith('node:')) {
    const parts = url.slice('node:'.length).split('/');
    const name = parts[0] === 'internal' ? parts.slice(0, 2).join('/') : parts[0];
    return `node:${name}`;
  }
  const where = shortWhere(url);
  if (url.includes('/node_modules/')) {
    const parts = where.split('/');
    return (parts[0] ?? '').startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] as string);
  }
  const parts = where.split('/');
  if (parts[0] === 'app' || parts[0] === 'scripts') return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0];
  return where;
}

export function summarizeProfile(
  profile: CpuProfile,
  contender: ContenderId,
  scenario: string,
  file: string,
  reqPerSec: number,
  top = 25,
): ProfileSummary {
  const nodes = new Map<number, CpuProfileNode>();
  for (const node of profile.nodes) nodes.set(node.id, node);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    // timeDeltas[i] is the time before sample i: the interval after sample i is timeDeltas[i + 1].
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const byFunction = new Map<string, { name: string; where: string; us: number }>();
  const byCategory = new Map<string, number>();
  let busyUs = 0;
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = nodes.get(id);
    if (node === undefined) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    totalUs += us;
    const category = categoryOf(functionName, url);
    byCategory.set(category, (byCategory.get(category) ?? 0) + us);
    if (category === '(idle)') continue;
    busyUs += us;
    const name = functionName === '' ? '(anonymous)' : functionName;
    const where = url === '' ? '' : `${shortWhere(url)}:${lineNumber + 1}`;
    const key = `${name}\u0000${where}`;
    const entry = byFunction.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const share = (us: number): number => (busyUs === 0 ? 0 : us / busyUs);
  return {
    contender,
    scenario,
    file,
    sampledMs: totalUs / 1000,
    reqPerSec,
    byCategory: [...byCategory.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, where: '', selfMs: us / 1000, share: name === '(idle)' ? Number.NaN : share(us) })),
    topFunctions: [...byFunction.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f): ProfileEntry => ({ name: f.name, where: f.where, selfMs: f.us / 1000, share: share(f.us) })),
  };
}
