// Process facts from /proc (Linux): resident memory of a process and of its descendants,
// and a process's start time so a pid is never confused with a reused one.
import { readdirSync, readFileSync } from 'node:fs';

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** Clock ticks since boot (field 22): with the pid, identifies one process for good. */
  readonly startTicks: string;
  /** User + system CPU time in clock ticks (fields 14 and 15). */
  readonly cpuTicks: number;
}

/** Linux's USER_HZ: the unit of /proc/<pid>/stat times; 100 on every mainstream architecture. */
const TICKS_PER_SECOND = 100;

function readStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: parse after its last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(rest[1]), startTicks: rest[19] ?? '', cpuTicks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return null;
  }
}

/** VmRSS of one process in kB, or null when it is gone. */
export function rssKb(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return null;
  }
}

export interface ProcessIdentity {
  readonly pid: number;
  readonly startTicks: string;
}

/** Every live descendant of `pid` (children, grandchildren, ...). */
export function descendants(pid: number): ProcessIdentity[] {
  const byParent = new Map<number, ProcStat[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat === null) continue;
    const siblings = byParent.get(stat.ppid) ?? [];
    siblings.push(stat);
    byParent.set(stat.ppid, siblings);
  }
  const found: ProcessIdentity[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    const parent = pending.pop() as number;
    for (const child of byParent.get(parent) ?? []) {
      found.push({ pid: child.pid, startTicks: child.startTicks });
      pending.push(child.pid);
    }
  }
  return found;
}

/** True while this exact process (pid and start time) still exists and is not a zombie. */
export function isAlive(identity: ProcessIdentity): boolean {
  const stat = readStat(identity.pid);
  if (stat === null || stat.startTicks !== identity.startTicks) return false;
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${identity.pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

export function identityOf(pid: number): ProcessIdentity | null {
  const stat = readStat(pid);
  return stat === null ? null : { pid, startTicks: stat.startTicks };
}

/** RSS of a process plus all its descendants (kB); null when the process is gone. */
export function treeRssKb(pid: number): number | null {
  const own = rssKb(pid);
  if (own === null) return null;
  let total = own;
  for (const d of descendants(pid)) total += rssKb(d.pid) ?? 0;
  return total;
}

/** CPU seconds (user + system) used so far by one process, or null when it is gone. */
export function cpuSeconds(pid: number): number | null {
  const stat = readStat(pid);
  return stat === null ? null : stat.cpuTicks / TICKS_PER_SECOND;
}

/** CPU seconds used so far by each live descendant of `pid`, by pid. */
export function descendantCpuSeconds(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of descendants(pid)) {
    const s = cpuSeconds(d.pid);
    if (s !== null) out.set(d.pid, s);
  }
  return out;
}
