// `set:` keys of a suite or test (`a.b`, `a[1]`, `a.[x.y]` for a dotted key) turned into the
// nested value they denote, the way upstream's BuildValueOfSetPath does it: an index builds a
// fresh list of nulls with the value at that position (it never patches an existing list).
import type { YamlMap, YamlValue } from './yaml-data.js';

export class SetPathError extends Error {
  override readonly name = 'SetPathError';
}

type Cursor = string | number;

const ILLEGAL = new Set([',', '{', '}', '=']);
const STOP = new Set(['.', '[', ']', ',', '{', '}', '=']);

/** The key/index cursors named by a set path. */
export function parseSetPath(path: string): Cursor[] {
  if (path === '') throw new SetPathError('set path is empty');
  const cursors: Cursor[] = [];
  let state: 'key' | 'index' | 'denotation' | 'escaping' = 'key';
  let escaped = '';
  let pos = 0;
  for (;;) {
    let token = '';
    while (pos < path.length && !STOP.has(path[pos] ?? '')) token += path[pos++];
    if (pos >= path.length) {
      if (state === 'key' && token !== '') cursors.push(token);
      else if (!(state === 'denotation' && token === '')) throw new SetPathError(`unexpected end of ${path}`);
      return cursors;
    }
    const last = path[pos++] ?? '';
    if (ILLEGAL.has(last)) throw new SetPathError(`invalid token found ${last}`);
    switch (state) {
      case 'index': {
        if (last !== ']') throw new SetPathError('missing index value');
        if (!/^[+-]?\d+$/.test(token))
          throw new SetPathError(`strconv.Atoi: parsing ${JSON.stringify(token)}: invalid syntax`);
        cursors.push(Number(token));
        state = 'denotation';
        break;
      }
      case 'denotation':
        if (last === '.') state = 'key';
        else if (last === '[') state = 'index';
        else throw new SetPathError(`invalid denotation token ${last}`);
        break;
      case 'key':
        if (last === '.') {
          cursors.push(token);
        } else if (last === '[') {
          if (token === '') {
            escaped = '';
            state = 'escaping';
          } else {
            cursors.push(token);
            state = 'index';
          }
        } else {
          throw new SetPathError(`invalid key ${last}`);
        }
        break;
      case 'escaping':
        if (last === '.') escaped += `${token}.`;
        else if (last === ']') {
          cursors.push(escaped + token);
          state = 'denotation';
        } else throw new SetPathError(`invalid escaping token ${last}`);
        break;
    }
  }
}

/** `{a: {b: [null, value]}}` for path `a.b[1]`. */
export function buildSetValue(path: string, value: YamlValue): YamlMap {
  const cursors = parseSetPath(path);
  const root: YamlMap = {};
  let current: YamlMap | YamlValue[] = root;
  cursors.forEach((cursor, depth) => {
    const nextCursor = cursors[depth + 1];
    const next: YamlValue =
      nextCursor === undefined
        ? value
        : typeof nextCursor === 'number'
          ? new Array<YamlValue>(nextCursor + 1).fill(null)
          : {};
    if (typeof cursor === 'number') {
      if (!Array.isArray(current)) throw new SetPathError(`index ${cursor} applied to a map`);
      current[cursor] = next;
    } else {
      if (Array.isArray(current)) throw new SetPathError(`key ${cursor} applied to a list`);
      current[cursor] = next;
    }
    if (typeof next === 'object' && next !== null) current = next;
  });
  return root;
}
