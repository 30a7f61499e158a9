// chart/values.schema.json and the chart README's parameter table are generated
// (`npm run chart:schema`): regenerating them from chart/values.yaml must give the committed
// files, so a value added without its `## @param` line, or a hand edit, fails here.
import test from 'ava';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SchemaRuleError, tightenSchema, type JsonSchema } from '../../scripts/chart-schema.js';
import { CHART, ROOT } from './chart-helm.js';

const GENERATOR = path.join(ROOT, 'node_modules', '.bin', 'readme-generator');

function runGenerator(values: string, readme: string, schema: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      GENERATOR,
      ['-v', values, '-r', readme, '-s', schema],
      { timeout: 30_000, killSignal: 'SIGKILL' },
      (error, _stdout, stderr) =>
        error === null ? resolve() : reject(new Error(`readme-generator failed: ${error.message}\n${stderr}`)),
    );
  });
}

const readJson = async (file: string): Promise<JsonSchema> => JSON.parse(await readFile(file, 'utf8')) as JsonSchema;

test('the committed schema and README table are what chart:schema generates from values.yaml', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'chart-schema-'));
  try {
    const values = path.join(dir, 'values.yaml');
    const readme = path.join(dir, 'README.md');
    const schema = path.join(dir, 'values.schema.json');
    await copyFile(path.join(CHART, 'values.yaml'), values);
    await copyFile(path.join(CHART, 'README.md'), readme);
    await runGenerator(values, readme, schema);
    t.deepEqual(
      tightenSchema(await readJson(schema)),
      await readJson(path.join(CHART, 'values.schema.json')),
      'run `npm run chart:schema`',
    );
    t.is(
      await readFile(readme, 'utf8'),
      await readFile(path.join(CHART, 'README.md'), 'utf8'),
      'run `npm run chart:schema`',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('tightening is idempotent and closes the top level', async (t) => {
  const committed = await readJson(path.join(CHART, 'values.schema.json'));
  t.deepEqual(tightenSchema(committed), committed);
  t.is(committed.additionalProperties, false);
  t.is(committed.properties?.model?.properties?.md5?.pattern, '^([0-9a-f]{32})?$');
  t.deepEqual(committed.properties?.livenessProbe?.properties?.type?.enum, ['httpGet', 'tcpSocket']);
  t.like(committed.properties?.readinessProbe?.properties?.periodSeconds, { type: 'integer', minimum: 1 });
});

test('a rule for a value that no longer exists is an error naming it', (t) => {
  const generated: JsonSchema = { type: 'object', properties: { image: { type: 'object', properties: {} } } };
  t.throws(() => tightenSchema(generated), {
    instanceOf: SchemaRuleError,
    message: /no property commonLabels in the generated schema/,
  });
});
