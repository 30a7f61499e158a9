// What every validator shares: its context, upstream's failure-message layout (setFailFormat,
// splitInfof, the `Error:` block), the "AND over everything" success rule, and the
// normalisation of actual strings (spaces before a newline and leading newlines removed).
import { scalarText, type YamlMap, type YamlValue } from '../yaml-data.js';

export interface ValidateContext {
  /** Every document the template rendered. */
  readonly docs: readonly YamlMap[];
  /** The documents chosen by documentIndex / documentSelector (all of them otherwise). */
  readonly selected: readonly YamlMap[];
  readonly negative: boolean;
  /** A render error that could not be tied to a template (schema, values, unparsed). */
  readonly renderError: string | undefined;
  readonly failFast: boolean;
}

export interface Verdict {
  readonly passed: boolean;
  readonly info: readonly string[];
}

export interface Validator {
  validate(context: ValidateContext): Verdict;
}

/** Go strings.Trim(s, cutset). */
export function trimChars(text: string, cutset: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && cutset.includes(text[start] ?? '')) start += 1;
  while (end > start && cutset.includes(text[end - 1] ?? '')) end -= 1;
  return text.slice(start, end);
}

/** Upstream's setFailFormat: the Path/Expected/Actual/Diff skeleton of a failure. */
export function failFormat(
  not: boolean,
  withPath: boolean,
  withActual: boolean,
  withDiff: boolean,
  what: string,
): string {
  let format = `\nExpected${not ? ' NOT' : ''}${what}:\n%s\n`;
  if (withPath) format = `Path:%s${format}`;
  if (withActual) format += 'Actual:\n%s\n';
  if (withDiff) format += 'Diff:\n%s\n';
  return format;
}

export const ERROR_FORMAT = '\nError:\n%s\n';

/** Upstream's splitInfof: fills `%s` slots with tab-indented values, adds the index lines. */
export function splitInfo(
  format: string,
  documentIndex: number,
  valuesIndex: number,
  ...replacements: string[]
): string[] {
  let i = 0;
  const filled = trimChars(format, '\t\n ').replace(/%s/g, () => {
    const value = replacements[i] ?? '';
    i += 1;
    return `\t${trimChars(value.replaceAll('\n', '\n\t'), '\n\t ')}`;
  });
  const lines = filled.split('\n');
  if (valuesIndex >= 0) lines.unshift(`ValuesIndex:\t${valuesIndex}`);
  if (documentIndex >= 0) lines.unshift(`DocumentIndex:\t${documentIndex}`);
  return lines;
}

export function errorInfo(message: string, documentIndex = -1, valuesIndex = -1): string[] {
  return splitInfo(ERROR_FORMAT, documentIndex, valuesIndex, message);
}

/** Upstream's determineSuccess: the first result sets the verdict, later ones can only fail it. */
export function andSoFar(index: number, soFar: boolean, next: boolean): boolean {
  return index === 0 ? next : soFar && next;
}

/** Upstream's uniformContent for strings. */
export function uniformContent(text: string): string {
  return text.replace(/[ ]+\r?\n/g, '\n').replace(/^\n+/, '');
}

/** The raw text of a document (NOTES.txt, failed templates): Go's "%v" of manifest["raw"]. */
export function rawOf(doc: YamlMap): string {
  const raw: YamlValue | undefined = doc.raw;
  if (raw === undefined || raw === null) return '<nil>';
  return scalarText(raw);
}

/**
 * The loop every per-document validator runs: AND over the selected documents; with none, the
 * positive form fails with `noneInfo` and the negated form passes.
 */
export function overDocuments(
  context: ValidateContext,
  perDocument: (doc: YamlMap, index: number) => Verdict,
  noneInfo: () => readonly string[],
): Verdict {
  let passed = false;
  const info: string[] = [];
  for (const [index, doc] of context.selected.entries()) {
    const verdict = perDocument(doc, index);
    info.push(...verdict.info);
    passed = andSoFar(index, passed, verdict.passed);
    if (!passed && context.failFast) break;
  }
  if (context.selected.length === 0) {
    if (context.negative) return { passed: true, info };
    return { passed: false, info: [...info, ...noneInfo()] };
  }
  return { passed, info };
}
