// The "Diff:" block of failure messages: a unified diff with one line of context between the
// expected and actual YAML, in the layout of Go's difflib (which upstream prints).
// Hand-written: it formats a few short lines for humans; no verdict depends on it.
type Tag = 'equal' | 'delete' | 'insert' | 'replace';
interface OpCode {
  tag: Tag;
  i1: number;
  i2: number;
  j1: number;
  j2: number;
}

/** Go difflib's SplitLines: lines keep their newline, and the last one gets one added. */
function splitLines(text: string): string[] {
  return text.split('\n').map((part) => `${part}\n`);
}

function opcodes(a: readonly string[], b: readonly string[]): OpCode[] {
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      const row = lcs[i] ?? [];
      row[j] = a[i] === b[j] ? (lcs[i + 1]?.[j + 1] ?? 0) + 1 : Math.max(lcs[i + 1]?.[j] ?? 0, row[j + 1] ?? 0);
    }
  }
  const codes: OpCode[] = [];
  let i = 0;
  let j = 0;
  const push = (tag: Tag, di: number, dj: number): void => {
    const last = codes[codes.length - 1];
    const mergeable = last !== undefined && (last.tag === tag || (tag !== 'equal' && last.tag !== 'equal'));
    if (mergeable) {
      last.tag = last.tag === tag ? tag : 'replace';
      last.i2 += di;
      last.j2 += dj;
    } else codes.push({ tag, i1: i, i2: i + di, j1: j, j2: j + dj });
    i += di;
    j += dj;
  };
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) push('equal', 1, 1);
    else if (j < b.length && (i >= a.length || (lcs[i]?.[j + 1] ?? 0) >= (lcs[i + 1]?.[j] ?? 0))) push('insert', 0, 1);
    else push('delete', 1, 0);
  }
  return codes;
}

function groupCodes(codes: OpCode[], context: number): OpCode[][] {
  const list =
    codes.length === 0 ? [{ tag: 'equal' as Tag, i1: 0, i2: 1, j1: 0, j2: 1 }] : codes.map((c) => ({ ...c }));
  const first = list[0];
  if (first !== undefined && first.tag === 'equal') {
    first.i1 = Math.max(first.i1, first.i2 - context);
    first.j1 = Math.max(first.j1, first.j2 - context);
  }
  const last = list[list.length - 1];
  if (last !== undefined && last.tag === 'equal') {
    last.i2 = Math.min(last.i2, last.i1 + context);
    last.j2 = Math.min(last.j2, last.j1 + context);
  }
  const groups: OpCode[][] = [];
  let group: OpCode[] = [];
  for (const code of list) {
    let { i1, j1 } = code;
    if (code.tag === 'equal' && code.i2 - i1 > 2 * context) {
      group.push({ tag: 'equal', i1, i2: Math.min(code.i2, i1 + context), j1, j2: Math.min(code.j2, j1 + context) });
      groups.push(group);
      group = [];
      i1 = Math.max(i1, code.i2 - context);
      j1 = Math.max(j1, code.j2 - context);
    }
    group.push({ ...code, i1, j1 });
  }
  if (group.length > 0 && !(group.length === 1 && group[0]?.tag === 'equal')) groups.push(group);
  return groups;
}

function range(start: number, stop: number): string {
  const length = stop - start;
  if (length === 1) return String(start + 1);
  if (length === 0) return `${start},0`;
  return `${start + 1},${length}`;
}

export function unifiedDiff(expected: string, actual: string): string {
  const a = splitLines(expected);
  const b = splitLines(actual);
  let out = '';
  for (const group of groupCodes(opcodes(a, b), 1)) {
    const first = group[0];
    const last = group[group.length - 1];
    if (first === undefined || last === undefined) continue;
    if (out === '') out += '--- Expected\n+++ Actual\n';
    out += `@@ -${range(first.i1, last.i2)} +${range(first.j1, last.j2)} @@\n`;
    for (const code of group) {
      if (code.tag === 'equal') for (const line of a.slice(code.i1, code.i2)) out += ` ${line}`;
      if (code.tag === 'delete' || code.tag === 'replace')
        for (const line of a.slice(code.i1, code.i2)) out += `-${line}`;
      if (code.tag === 'insert' || code.tag === 'replace')
        for (const line of b.slice(code.j1, code.j2)) out += `+${line}`;
    }
  }
  return out;
}
