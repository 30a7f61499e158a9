// Which documents an assertion looks at: per template, the documents picked by a
// documentSelector (the assertion's, else the test's; it wins over documentIndex) or by a
// documentIndex (the test's overrides the assertion's; counted per template), or all of them.
import { deepEqual, type YamlMap, type YamlValue } from './yaml-data.js';
import { valuesAtPath } from './yaml-path.js';
import type { DocumentSelector } from './suite-file.js';

export type Selection =
  { readonly ok: true; readonly byTemplate: Map<string, YamlMap[]> } | { readonly ok: false; readonly error: string };

function matchesSelector(doc: YamlMap, selector: DocumentSelector): boolean {
  const values = valuesAtPath(doc, selector.path);
  const want: YamlValue | undefined = selector.value;
  return values.some((value) => want === undefined || want === null || deepEqual(want, value));
}

function selectInTemplate(docs: readonly YamlMap[], selector: DocumentSelector): YamlMap[] {
  const picked: YamlMap[] = [];
  for (const doc of docs) {
    if (!matchesSelector(doc, selector)) continue;
    if (!selector.matchMany && picked.length > 0) throw new Error('multiple indexes found');
    picked.push(doc);
  }
  if (selector.skipEmptyTemplates || picked.length > 0) return picked;
  throw new Error('document not found');
}

export function selectBySelector(
  templates: ReadonlyMap<string, readonly YamlMap[]>,
  selector: DocumentSelector,
): Selection {
  const byTemplate = new Map<string, YamlMap[]>();
  let total = 0;
  try {
    for (const template of [...templates.keys()].sort()) {
      const picked = selectInTemplate(templates.get(template) ?? [], selector);
      total += picked.length;
      if (!selector.matchMany && total > 1) return { ok: false, error: 'multiple indexes found' };
      if (picked.length > 0 || !selector.skipEmptyTemplates) byTemplate.set(template, picked);
    }
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  return { ok: true, byTemplate };
}

export function selectByIndex(templates: ReadonlyMap<string, readonly YamlMap[]>, index: number): Selection {
  const byTemplate = new Map<string, YamlMap[]>();
  for (const [template, docs] of templates) {
    const doc = index >= 0 ? docs[index] : undefined;
    if (doc === undefined) return { ok: false, error: `document index ${index} is out of range` };
    byTemplate.set(template, [doc]);
  }
  return { ok: true, byTemplate };
}

export function selectDocuments(
  templates: ReadonlyMap<string, readonly YamlMap[]>,
  selector: DocumentSelector | undefined,
  documentIndex: number,
): Selection {
  if (selector !== undefined && selector.path !== '') return selectBySelector(templates, selector);
  if (documentIndex !== -1) return selectByIndex(templates, documentIndex);
  return { ok: true, byTemplate: new Map([...templates].map(([key, docs]) => [key, [...docs]])) };
}
