// The processes under a given pid, read from /proc: chroot isolation keeps the host's PID
// namespace, so the container's processes (and their real uids) are visible from here.
import { readdir, readFile } from 'node:fs/promises';

export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  /** Real, effective, saved and filesystem uids (the `Uid:` line of /proc/<pid>/status). */
  readonly uids: readonly number[];
  readonly gids: readonly number[];
  readonly cmdline: string;
}

async function info(pid: number): Promise<ProcessInfo | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so cut at the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const ids = (key: string): number[] =>
      (new RegExp(`^${key}:\\s+(.*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).map(Number);
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean).join(' ');
    return { pid, ppid, comm, uids: ids('Uid'), gids: ids('Gid'), cmdline };
  } catch {
    return undefined; // gone meanwhile
  }
}

export async function descendants(root: number): Promise<ProcessInfo[]> {
  const all: ProcessInfo[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = await info(Number(name));
    if (p !== undefined) all.push(p);
  }
  const out: ProcessInfo[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const parent = frontier.pop();
    for (const p of all) {
      if (p.ppid === parent) {
        out.push(p);
        frontier.push(p.pid);
      }
    }
  }
  return out;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
