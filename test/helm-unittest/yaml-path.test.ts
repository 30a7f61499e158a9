import test from 'ava';
import { parseYaml, type YamlValue } from '../../scripts/helm-unittest/yaml-data.js';
import { valuesAtPath, YamlPathError } from '../../scripts/helm-unittest/yaml-path.js';

const doc = parseYaml(`
kind: Deployment
metadata:
  name: web
  annotations:
    helm.sh/hook: pre-install
  labels: {app.kubernetes.io/name: web}
data:
  my.conf: "a = b"
  empty.value:
spec:
  replicas: 2
  ratio: 2.0
  containers:
    - name: web
      port: 80
      env: [{name: A, value: "1"}]
    - name: db
      port: 5432
`);

const cases: [string, YamlValue[]][] = [
  ['kind', ['Deployment']],
  ['$.kind', ['Deployment']],
  ['metadata.name', ['web']],
  ['metadata.annotations["helm.sh/hook"]', ['pre-install']],
  ["metadata.labels['app.kubernetes.io/name']", ['web']],
  ['data["my.conf"]', ['a = b']],
  ['data["empty.value"]', [null]],
  ['spec.containers[0].name', ['web']],
  ['spec.containers[-1].name', ['db']],
  ['spec.containers[*].name', ['web', 'db']],
  ['spec.containers[0:1].name', ['web']],
  ['spec.containers[0,1].port', [80n, 5432n]],
  ['spec.containers.*.name', ['web', 'db']],
  ['spec.containers[?(@.name == "db")].port', [5432n]],
  ["spec.containers[?(@.name == 'db')].port", [5432n]],
  ['spec.containers[?(@.port > 100)].name', ['db']],
  ['spec.containers[?(@.port >= 80 && @.name != "db")].name', ['web']],
  ['spec.containers[?(@.env)].name', ['web']],
  ['spec.containers[?(!@.env)].name', ['db']],
  ['spec.containers[?(@.name =~ /^w/)].name', ['web']],
  ['$[?(@.kind == "Deployment")].metadata.name', ['web']],
  ['$[?(@.kind == "Service")].metadata.name', []],
  ['..port', [80n, 5432n]],
  ['$..env[0].value', ['1']],
  ['spec.nothing', []],
  ['spec.replicas.deeper', []],
  ['spec.containers[7]', []],
];

for (const [path, want] of cases) {
  test(`path ${path}`, (t) => {
    t.deepEqual(valuesAtPath(doc, path), want);
  });
}

test('the empty path is the document itself', (t) => {
  t.deepEqual(valuesAtPath(doc, ''), [doc]);
});

test('ints and floats stay distinct through a path', (t) => {
  t.deepEqual(valuesAtPath(doc, 'spec.replicas'), [2n]);
  t.deepEqual(valuesAtPath(doc, 'spec.ratio'), [2]);
});

test('malformed paths are errors, not empty results', (t) => {
  for (const bad of ['spec.containers[0', 'spec.', 'spec.containers[x]', 'spec.containers[?(@.name ==)]', 'a.b]']) {
    t.throws(() => valuesAtPath(doc, bad), { instanceOf: YamlPathError }, bad);
  }
});
