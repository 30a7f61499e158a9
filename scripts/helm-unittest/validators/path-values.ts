// The per-document half of path validators: the values at `path` in one document, a missing path
// failing the positive form ("unknown path") and passing the negated one, and an AND over values.
import { YamlPathError, valuesAtPath } from '../yaml-path.js';
import type { YamlMap, YamlValue } from '../yaml-data.js';
import { andSoFar, errorInfo, type ValidateContext, type Verdict } from './common.js';

export type PathLookup =
  { readonly ok: true; readonly values: YamlValue[] } | { readonly ok: false; readonly verdict: Verdict };

export function lookup(doc: YamlMap, path: string, documentIndex: number): PathLookup {
  try {
    return { ok: true, values: valuesAtPath(doc, path) };
  } catch (error) {
    const message = error instanceof YamlPathError ? error.message : String(error);
    return { ok: false, verdict: { passed: false, info: errorInfo(message, documentIndex) } };
  }
}

export function overPathValues(
  doc: YamlMap,
  documentIndex: number,
  path: string,
  context: ValidateContext,
  perValue: (value: YamlValue, valueIndex: number) => Verdict,
  unknownPath = `unknown path ${path}`,
): Verdict {
  const found = lookup(doc, path, documentIndex);
  if (!found.ok) return found.verdict;
  if (found.values.length === 0 && !context.negative)
    return { passed: false, info: errorInfo(unknownPath, documentIndex) };
  let passed = found.values.length === 0 && context.negative;
  const info: string[] = [];
  for (const [valueIndex, value] of found.values.entries()) {
    const verdict = perValue(value, valueIndex);
    info.push(...verdict.info);
    passed = andSoFar(valueIndex, passed, verdict.passed);
    if (!passed && context.failFast) break;
  }
  return { passed, info };
}
