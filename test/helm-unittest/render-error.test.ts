import test from 'ava';
import { parseRenderError } from '../../scripts/helm-unittest/render-error.js';
import { cleanHelmError, splitBySource } from '../../scripts/helm-unittest/helm-template.js';

test('fail/required: the file in (FILE:L:C) and the message after it, colons inside kept', (t) => {
  t.deepEqual(
    parseRenderError(
      'execution error at (chart/templates/validation.tpl:3:5): The `.Release.name`: must be <= 3 characters!',
    ),
    {
      file: 'chart/templates/validation.tpl',
      message: 'The `.Release.name`: must be <= 3 characters!',
    },
  );
});

test('include errors: the message starts after the first ": " past FILE:L:C, not after the last', (t) => {
  const error =
    'template: chart/templates/configMap.yaml:7:8: executing "chart/templates/configMap.yaml" at <include "x" .>: ' +
    'error calling include: template: no template "x" associated with template "gotpl"';
  t.deepEqual(parseRenderError(error), {
    file: 'chart/templates/configMap.yaml',
    message: 'error calling include: template: no template "x" associated with template "gotpl"',
  });
});

test('a multi-line error keeps everything after its first line', (t) => {
  const error = 'execution error at (chart/templates/a.yaml:1:2): first line\nsecond: line\nthird';
  t.deepEqual(parseRenderError(error), { file: 'chart/templates/a.yaml', message: 'second: line\nthird' });
});

test('errors that name no template (schema, values, Helm 4 include layout) are not parsed', (t) => {
  t.deepEqual(
    parseRenderError(
      "values don't meet the specifications of the schema(s) in the following chart(s):\nc:\n- value: Invalid type",
    ),
    { file: '', message: '' },
  );
  t.deepEqual(
    parseRenderError(
      'c/templates/x.yaml:7:8\n  executing "c/templates/x.yaml" at <include "x" .>:\n    error calling include:\ntemplate: no template "x"',
    ),
    {
      file: '',
      message: '',
    },
  );
});

test("helm's CLI decorations are removed from the error", (t) => {
  const stderr =
    'level=ERROR msg="release name check failed"\nError: execution error at (c/templates/a.yaml:1:2): boom\n\nUse --debug flag to render out invalid YAML\n';
  t.is(cleanHelmError(stderr), 'execution error at (c/templates/a.yaml:1:2): boom');
});

test('helm output is grouped by # Source and each document ends with one newline', (t) => {
  const stdout =
    '---\n# Source: c/templates/a.yaml\nkind: A\n---\n# Source: c/templates/b.yaml\ndata: |\n  x\n---\n# Source: c/templates/a.yaml\nkind: B';
  t.deepEqual(splitBySource(stdout), [
    { source: 'c/templates/a.yaml', text: 'kind: A\n' },
    { source: 'c/templates/b.yaml', text: 'data: |\n  x\n' },
    { source: 'c/templates/a.yaml', text: 'kind: B\n' },
  ]);
});
