// The path language of helm-unittest assertions (upstream uses vmware-labs/yaml-jsonpath):
// `a.b`, `a["x.y"]`, `a['x']`, `[0]`, `[-1]`, `[1:3]`, `[*]`, `.*`, `..name`, unions `[0,2]`,
// `['a','b']`, filters `[?(@.name == "web")]` with ==, !=, <, <=, >, >=, =~ /re/, &&, ||, !,
// parentheses, `@`/`$` subpaths and literals; the leading `$` is optional.
// Hand-written because no installed package evaluates this dialect over already-decoded data
// with Go-typed scalars (ints vs floats), and the subset is small.
import { goRegExp } from './go-regexp.js';
import { isMap, type YamlMap, type YamlValue } from './yaml-data.js';

export class YamlPathError extends Error {
  override readonly name = 'YamlPathError';
}

interface Slice {
  readonly start: number | undefined;
  readonly end: number | undefined;
  readonly step: number;
}

type Step =
  | { readonly kind: 'child'; readonly names: readonly string[] }
  | { readonly kind: 'wildcard' }
  | { readonly kind: 'index'; readonly selectors: readonly (number | Slice)[] }
  | { readonly kind: 'filter'; readonly expr: FilterExpr }
  | { readonly kind: 'recursive'; readonly step: Step | undefined };

type Term =
  | { readonly kind: 'path'; readonly fromRoot: boolean; readonly steps: readonly Step[] }
  | { readonly kind: 'literal'; readonly value: YamlValue }
  | { readonly kind: 'regex'; readonly pattern: RegExp };

type Comparator = '==' | '!=' | '<' | '<=' | '>' | '>=' | '=~';

type FilterExpr =
  | { readonly kind: 'or' | 'and'; readonly left: FilterExpr; readonly right: FilterExpr }
  | { readonly kind: 'not'; readonly inner: FilterExpr }
  | { readonly kind: 'exists'; readonly term: Term }
  | { readonly kind: 'compare'; readonly op: Comparator; readonly left: Term; readonly right: Term };

const NAME_STOP = new Set(['.', '[', ']']);

class PathParser {
  private pos = 0;
  constructor(
    private readonly src: string,
    private readonly stops: ReadonlySet<string> = NAME_STOP,
  ) {}

  private fail(message: string): never {
    throw new YamlPathError(`invalid path ${JSON.stringify(this.src)}: ${message}`);
  }

  /** Inside a filter, a subpath ends at a space or operator (stops that are not path syntax). */
  private atEnd(): boolean {
    const ch = this.src[this.pos] ?? '';
    return this.pos >= this.src.length || (this.stops.has(ch) && !NAME_STOP.has(ch));
  }

  private readName(): string {
    const start = this.pos;
    while (this.pos < this.src.length && !this.stops.has(this.src[this.pos] ?? '')) this.pos += 1;
    return this.src.slice(start, this.pos);
  }

  private nameStep(name: string): Step {
    if (name === '') this.fail(`empty child name at ${this.pos}`);
    if (name === '*') return { kind: 'wildcard' };
    return { kind: 'child', names: [name] };
  }

  /** Parses steps until the end of the input or, inside filters, a stop character. */
  steps(allowUndotted: boolean): Step[] {
    const steps: Step[] = [];
    if (allowUndotted && this.pos < this.src.length && !NAME_STOP.has(this.src[this.pos] ?? '') && !this.atEnd()) {
      steps.push(this.nameStep(this.readName()));
    }
    while (this.pos < this.src.length && !this.atEnd()) {
      const ch = this.src[this.pos];
      if (this.src.startsWith('..', this.pos)) {
        this.pos += 2;
        if (this.src[this.pos] === '[') {
          steps.push({ kind: 'recursive', step: this.bracket() });
        } else {
          const name = this.readName();
          steps.push({ kind: 'recursive', step: name === '' ? undefined : this.nameStep(name) });
        }
      } else if (ch === '.') {
        this.pos += 1;
        steps.push(this.nameStep(this.readName()));
      } else if (ch === '[') {
        steps.push(this.bracket());
      } else {
        this.fail(`unexpected ${JSON.stringify(ch)} at ${this.pos}`);
      }
    }
    return steps;
  }

  private bracketContent(): string {
    const open = this.pos;
    this.pos += 1;
    let depth = 0;
    let quote: string | undefined;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos] ?? '';
      if (quote !== undefined) {
        if (ch === '\\') this.pos += 1;
        else if (ch === quote) quote = undefined;
      } else if (ch === '"' || ch === "'") quote = ch;
      else if (ch === '(' || ch === '[') depth += 1;
      else if (ch === ')') depth -= 1;
      else if (ch === ']') {
        if (depth === 0) {
          this.pos += 1;
          return this.src.slice(open + 1, this.pos - 1).trim();
        }
        depth -= 1;
      }
      this.pos += 1;
    }
    return this.fail('missing ]');
  }

  private bracket(): Step {
    const content = this.bracketContent();
    if (content === '*') return { kind: 'wildcard' };
    if (content.startsWith('?')) {
      const inner = /^\?\s*\(([\s\S]*)\)$/.exec(content);
      if (inner === null) this.fail(`bad filter [${content}]`);
      return { kind: 'filter', expr: new FilterParser(inner[1] ?? '', this.src).parse() };
    }
    if (content.startsWith("'") || content.startsWith('"'))
      return { kind: 'child', names: parseQuotedList(content, this.src) };
    return { kind: 'index', selectors: content.split(',').map((part) => parseIndex(part.trim(), this.src)) };
  }

  get position(): number {
    return this.pos;
  }
}

function parseQuotedList(content: string, src: string): string[] {
  const names: string[] = [];
  let i = 0;
  while (i < content.length) {
    const quote = content[i];
    if (quote !== '"' && quote !== "'")
      throw new YamlPathError(`invalid path ${JSON.stringify(src)}: expected a quoted name in [${content}]`);
    let name = '';
    i += 1;
    while (i < content.length && content[i] !== quote) {
      if (content[i] === '\\' && i + 1 < content.length) i += 1;
      name += content[i];
      i += 1;
    }
    if (i >= content.length)
      throw new YamlPathError(`invalid path ${JSON.stringify(src)}: unterminated quote in [${content}]`);
    names.push(name);
    i += 1;
    while (content[i] === ' ') i += 1;
    if (i < content.length) {
      if (content[i] !== ',')
        throw new YamlPathError(`invalid path ${JSON.stringify(src)}: expected , in [${content}]`);
      i += 1;
      while (content[i] === ' ') i += 1;
    }
  }
  return names;
}

function parseInteger(text: string, src: string): number | undefined {
  if (text === '') return undefined;
  if (!/^-?\d+$/.test(text))
    throw new YamlPathError(`invalid path ${JSON.stringify(src)}: bad array index ${JSON.stringify(text)}`);
  return Number(text);
}

function parseIndex(part: string, src: string): number | Slice {
  if (!part.includes(':')) {
    const index = parseInteger(part, src);
    if (index === undefined) throw new YamlPathError(`invalid path ${JSON.stringify(src)}: empty array index`);
    return index;
  }
  const [start = '', end = '', step = ''] = part.split(':').map((s) => s.trim());
  const stepValue = parseInteger(step, src) ?? 1;
  if (stepValue === 0) throw new YamlPathError(`invalid path ${JSON.stringify(src)}: slice step 0`);
  return { start: parseInteger(start, src), end: parseInteger(end, src), step: stepValue };
}

const FILTER_STOPS = new Set(['.', '[', ']', ' ', '\t', '=', '!', '<', '>', '&', '|', ')', '(', ',']);

class FilterParser {
  private pos = 0;
  constructor(
    private readonly src: string,
    private readonly path: string,
  ) {}

  private fail(message: string): never {
    throw new YamlPathError(`invalid path ${JSON.stringify(this.path)}: filter ${message}`);
  }

  private skipSpace(): void {
    while (this.src[this.pos] === ' ' || this.src[this.pos] === '\t') this.pos += 1;
  }

  private take(token: string): boolean {
    this.skipSpace();
    if (this.src.startsWith(token, this.pos)) {
      this.pos += token.length;
      return true;
    }
    return false;
  }

  parse(): FilterExpr {
    const expr = this.or();
    this.skipSpace();
    if (this.pos < this.src.length) this.fail(`unexpected ${JSON.stringify(this.src.slice(this.pos))}`);
    return expr;
  }

  private or(): FilterExpr {
    let left = this.and();
    while (this.take('||')) left = { kind: 'or', left, right: this.and() };
    return left;
  }

  private and(): FilterExpr {
    let left = this.unary();
    while (this.take('&&')) left = { kind: 'and', left, right: this.unary() };
    return left;
  }

  private unary(): FilterExpr {
    this.skipSpace();
    if (this.src[this.pos] === '!' && this.src[this.pos + 1] !== '=') {
      this.pos += 1;
      return { kind: 'not', inner: this.unary() };
    }
    if (this.take('(')) {
      const inner = this.or();
      if (!this.take(')')) this.fail('missing )');
      return inner;
    }
    const left = this.term();
    this.skipSpace();
    for (const op of ['==', '!=', '<=', '>=', '=~', '<', '>'] as const) {
      if (this.take(op)) {
        const right = op === '=~' ? this.regex() : this.term();
        return { kind: 'compare', op, left, right };
      }
    }
    if (left.kind !== 'path') {
      if (left.kind === 'literal' && typeof left.value === 'boolean') {
        return { kind: 'compare', op: '==', left, right: { kind: 'literal', value: true } };
      }
      this.fail('a literal needs a comparison');
    }
    return { kind: 'exists', term: left };
  }

  private regex(): Term {
    this.skipSpace();
    if (this.src[this.pos] !== '/') this.fail('=~ needs /regex/');
    let i = this.pos + 1;
    let body = '';
    while (i < this.src.length && this.src[i] !== '/') {
      if (this.src[i] === '\\' && this.src[i + 1] === '/') {
        body += '/';
        i += 2;
        continue;
      }
      body += this.src[i];
      i += 1;
    }
    if (i >= this.src.length) this.fail('unterminated /regex/');
    this.pos = i + 1;
    return { kind: 'regex', pattern: goRegExp(body) };
  }

  private term(): Term {
    this.skipSpace();
    const ch = this.src[this.pos];
    if (ch === '@' || ch === '$') {
      this.pos += 1;
      const parser = new PathParser(this.src.slice(this.pos), FILTER_STOPS);
      const steps = parser.steps(false);
      this.pos += parser.position;
      return { kind: 'path', fromRoot: ch === '$', steps };
    }
    if (ch === "'" || ch === '"') {
      let i = this.pos + 1;
      let text = '';
      while (i < this.src.length && this.src[i] !== ch) {
        if (this.src[i] === '\\' && i + 1 < this.src.length) i += 1;
        text += this.src[i];
        i += 1;
      }
      if (i >= this.src.length) this.fail('unterminated string');
      this.pos = i + 1;
      return { kind: 'literal', value: text };
    }
    const word = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)/.exec(this.src.slice(this.pos));
    if (word === null) this.fail(`unexpected ${JSON.stringify(this.src.slice(this.pos))}`);
    this.pos += word[0].length;
    const text = word[0];
    if (text === 'true' || text === 'false') return { kind: 'literal', value: text === 'true' };
    if (text === 'null') return { kind: 'literal', value: null };
    return { kind: 'literal', value: /^-?\d+$/.test(text) ? BigInt(text) : Number(text) };
  }
}

function sliceIndices(slice: Slice, length: number): number[] {
  const norm = (value: number): number =>
    value < 0 ? Math.max(length + value, slice.step < 0 ? -1 : 0) : Math.min(value, length);
  const out: number[] = [];
  if (slice.step > 0) {
    const start = slice.start === undefined ? 0 : norm(slice.start);
    const end = slice.end === undefined ? length : norm(slice.end);
    for (let i = start; i < end; i += slice.step) out.push(i);
  } else {
    const start = slice.start === undefined ? length - 1 : Math.min(norm(slice.start), length - 1);
    const end = slice.end === undefined ? -1 : norm(slice.end);
    for (let i = start; i > end; i += slice.step) out.push(i);
  }
  return out;
}

function descendants(node: YamlValue, out: YamlValue[]): void {
  out.push(node);
  if (Array.isArray(node)) for (const item of node) descendants(item, out);
  else if (isMap(node)) for (const item of Object.values(node)) descendants(item, out);
}

function children(node: YamlValue): YamlValue[] {
  if (Array.isArray(node)) return node;
  if (isMap(node)) return Object.values(node);
  return [];
}

function childOf(node: YamlMap, name: string): YamlValue[] {
  return Object.prototype.hasOwnProperty.call(node, name) ? [node[name] ?? null] : [];
}

function applyStep(step: Step | undefined, node: YamlValue, root: YamlValue): YamlValue[] {
  if (step === undefined) return [node];
  switch (step.kind) {
    case 'child':
      return isMap(node) ? step.names.flatMap((name) => childOf(node, name)) : [];
    case 'wildcard':
      return children(node);
    case 'index': {
      if (!Array.isArray(node)) return [];
      const picked: YamlValue[] = [];
      for (const selector of step.selectors) {
        const indices =
          typeof selector === 'number'
            ? [selector < 0 ? node.length + selector : selector]
            : sliceIndices(selector, node.length);
        for (const i of indices) if (i >= 0 && i < node.length) picked.push(node[i] ?? null);
      }
      return picked;
    }
    case 'filter': {
      const candidates = Array.isArray(node) ? node : [node];
      return candidates.filter((candidate) => matchesFilter(step.expr, candidate, root));
    }
    case 'recursive': {
      const all: YamlValue[] = [];
      descendants(node, all);
      return all.flatMap((each) => applyStep(step.step, each, root));
    }
  }
}

function evaluate(steps: readonly Step[], start: YamlValue, root: YamlValue): YamlValue[] {
  let nodes: YamlValue[] = [start];
  for (const step of steps) nodes = nodes.flatMap((node) => applyStep(step, node, root));
  return nodes;
}

function termValues(term: Term, current: YamlValue, root: YamlValue): YamlValue[] {
  if (term.kind === 'literal') return [term.value];
  if (term.kind === 'regex') return [];
  return evaluate(term.steps, term.fromRoot ? root : current, root);
}

function isNumeric(value: YamlValue): value is bigint | number {
  return typeof value === 'bigint' || typeof value === 'number';
}

function compareValues(op: Comparator, left: YamlValue, right: YamlValue): boolean {
  let order: number | undefined;
  if (isNumeric(left) && isNumeric(right)) {
    const l = Number(left);
    const r = Number(right);
    order = l < r ? -1 : l > r ? 1 : 0;
  } else if (typeof left === 'string' && typeof right === 'string') {
    order = left < right ? -1 : left > right ? 1 : 0;
  } else if ((typeof left === 'boolean' && typeof right === 'boolean') || (left === null && right === null)) {
    if (op === '==') return left === right;
    if (op === '!=') return left !== right;
    return false;
  }
  if (order === undefined) return op === '!=';
  switch (op) {
    case '==':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
    case '=~':
      return false;
  }
}

function matchesFilter(expr: FilterExpr, current: YamlValue, root: YamlValue): boolean {
  switch (expr.kind) {
    case 'or':
      return matchesFilter(expr.left, current, root) || matchesFilter(expr.right, current, root);
    case 'and':
      return matchesFilter(expr.left, current, root) && matchesFilter(expr.right, current, root);
    case 'not':
      return !matchesFilter(expr.inner, current, root);
    case 'exists':
      return termValues(expr.term, current, root).length > 0;
    case 'compare': {
      const lefts = termValues(expr.left, current, root);
      if (expr.op === '=~') {
        const right = expr.right;
        if (right.kind !== 'regex' || lefts.length === 0) return false;
        return lefts.every((value) => typeof value === 'string' && right.pattern.test(value));
      }
      const rights = termValues(expr.right, current, root);
      if (lefts.length === 0 || rights.length === 0) return false;
      return lefts.every((l) => rights.every((r) => compareValues(expr.op, l, r)));
    }
  }
}

/** A compiled path; `find` returns every matching value (an empty list when nothing matches). */
export class YamlPath {
  private constructor(private readonly steps: readonly Step[]) {}

  static parse(path: string): YamlPath {
    const trimmed = path.trim();
    const body = trimmed.startsWith('$') ? trimmed.slice(1) : trimmed;
    const parser = new PathParser(body);
    return new YamlPath(parser.steps(!trimmed.startsWith('$')));
  }

  find(document: YamlValue): YamlValue[] {
    return evaluate(this.steps, document, document);
  }
}

/** Upstream's GetValueOfSetPath: the values at `path` in `document`; "" means the document itself. */
export function valuesAtPath(document: YamlValue, path: string): YamlValue[] {
  if (path === '') return [document];
  return YamlPath.parse(path).find(document);
}
