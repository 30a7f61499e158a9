import test from 'ava';
import { selectDocuments } from '../../scripts/helm-unittest/document-selection.js';
import type { DocumentSelector } from '../../scripts/helm-unittest/suite-file.js';
import type { YamlMap } from '../../scripts/helm-unittest/yaml-data.js';

const deploy = (name: string, namespace: string): YamlMap => ({ kind: 'Deployment', metadata: { name, namespace } });
const templates = new Map<string, YamlMap[]>([
  ['c/templates/a.yaml', [deploy('a1', 'default'), deploy('a2', 'other')]],
  ['c/templates/b.yaml', [{ kind: 'Service', metadata: { name: 'b1' } }]],
]);
const selector = (over: Partial<DocumentSelector>): DocumentSelector => ({
  path: 'kind',
  value: undefined,
  matchMany: false,
  skipEmptyTemplates: false,
  ...over,
});

test('no index and no selector: every document of every template', (t) => {
  const selection = selectDocuments(templates, undefined, -1);
  t.true(selection.ok);
  if (selection.ok)
    t.deepEqual(
      [...selection.byTemplate.values()].map((docs) => docs.length),
      [2, 1],
    );
});

test('documentIndex counts per template and must exist in every template', (t) => {
  const first = selectDocuments(templates, undefined, 0);
  t.true(first.ok && first.byTemplate.get('c/templates/a.yaml')?.[0] === templates.get('c/templates/a.yaml')?.[0]);
  t.deepEqual(selectDocuments(templates, undefined, 1), { ok: false, error: 'document index 1 is out of range' });
});

test('a selector matching one document across templates', (t) => {
  const selection = selectDocuments(templates, selector({ path: 'metadata.name', value: 'a2' }), -1);
  t.false(selection.ok, 'b.yaml has no match and skipEmptyTemplates is off');
  t.deepEqual(selection, { ok: false, error: 'document not found' });
  const skipping = selectDocuments(
    templates,
    selector({ path: 'metadata.name', value: 'a2', skipEmptyTemplates: true }),
    -1,
  );
  t.true(skipping.ok);
  if (skipping.ok) t.deepEqual([...skipping.byTemplate.keys()], ['c/templates/a.yaml']);
});

test('several matches need matchMany, within one template or across templates', (t) => {
  t.deepEqual(selectDocuments(templates, selector({ value: 'Deployment', skipEmptyTemplates: true }), -1), {
    ok: false,
    error: 'multiple indexes found',
  });
  t.deepEqual(selectDocuments(templates, selector({ path: 'metadata.name' }), -1), {
    ok: false,
    error: 'multiple indexes found',
  });
  const many = selectDocuments(
    templates,
    selector({ value: 'Deployment', matchMany: true, skipEmptyTemplates: true }),
    -1,
  );
  t.true(many.ok);
  if (many.ok) t.is(many.byTemplate.get('c/templates/a.yaml')?.length, 2);
});

test('a selector value may be a map (deep equality), and beats documentIndex', (t) => {
  const selection = selectDocuments(
    templates,
    selector({ path: 'metadata', value: { name: 'a2', namespace: 'other' }, skipEmptyTemplates: true }),
    0,
  );
  t.true(selection.ok);
  if (selection.ok) t.deepEqual(selection.byTemplate.get('c/templates/a.yaml'), [deploy('a2', 'other')]);
});

test('a selector without value picks documents where the path exists', (t) => {
  const selection = selectDocuments(
    templates,
    selector({ path: 'metadata.namespace', matchMany: true, skipEmptyTemplates: true }),
    -1,
  );
  t.true(selection.ok);
  if (selection.ok) t.deepEqual([...selection.byTemplate.keys()], ['c/templates/a.yaml']);
});
