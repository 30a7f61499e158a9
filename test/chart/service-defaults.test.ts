// The chart's defaults are the service's defaults. Every environment variable the default
// chart's ConfigMap sets is given to the service's own loadConfig on its own: it must leave the
// configuration exactly as the service's defaults have it (app/config.ts is the truth), unless
// the variable is listed below with the reason the chart differs. A default changed on one side
// only (the chart kept ADMISSION_MAX_QUEUE 64 after the service moved to 1024) fails here.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, type Config } from '../../app/config.js';
import { ROOT, findOne, renderChart } from './chart-helm.js';

/** Where the chart deliberately sets something other than the service's default, and why. */
const DELIBERATE: Readonly<Record<string, string>> = {
  MANAGEMENT_PORT:
    'the chart always runs the management listener (probes, management Service, ServiceMonitor); the service has it off unless asked',
  MODEL_CACHE_DIR: "the pod's cache volume mount; the service's default is a directory inside the repository or image",
  ENGINE_POOL_SIZE: "the service counts the node's CPUs, not the container's CPU limit, so the chart sets a fixed pool",
  SHUTDOWN_DELAY_MS:
    "0: the pod's preStop sleep (lifecycle.preStopSleepSeconds) waits for endpoint removal instead; the two would add up",
};

/** Settings of the README's configuration table the chart does not put in its ConfigMap, and why. */
const NOT_IN_CONFIGMAP: Readonly<Record<string, string>> = {
  HOST: "the service's 0.0.0.0 is what a pod needs",
  MODEL_LOCK_FILE: "the image's baked lock",
  MODEL_URI: 'the container env, from model.uri, only when a pipeline sets it',
  MODEL_MD5: 'the container env, from model.md5, only when model.uri is set',
  MODEL_SHA256: 'the container env, from model.sha256, only when set',
  MODEL_CANARIES: "the container env, from model.canaries, only when not empty (empty: the lock's)",
  MODEL_NAME: "in the ConfigMap only when model.name is set (empty: the lock's name)",
  S3_ENDPOINT: 'in the ConfigMap only when s3.endpoint is set (empty: AWS)',
  ADMISSION_QUEUE_DELAY_TARGET_MS:
    'in the ConfigMap only when admission.queueDelayTargetMs is set (null: the service derives it from the request timeout)',
  ADMISSION_QUEUE_DELAY_INTERVAL_MS:
    'in the ConfigMap only when admission.queueDelayIntervalMs is set (0: the service derives it from the target and the request timeout)',
  FASTTEXT_BIN: "the binary inside the image's node_modules, the service's default",
  NODE_COMPILE_CACHE:
    "Node's own: the image writes its compile cache at build time, read-only, where the service looks",
  NODE_DISABLE_COMPILE_CACHE: "Node's own, for debugging a start; a pod keeps the image's compile cache on",
};

/** Variable names of the README's configuration table (a row may name two: `A` / `B`). */
function readmeSettings(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = /^## Configuration\n([\s\S]*?)^## /m.exec(readme)?.[1] ?? '';
  const names: string[] = [];
  for (const line of section.split('\n')) {
    const firstCell = /^\| ([^|]+) \|/.exec(line)?.[1] ?? '';
    for (const m of firstCell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) names.push(m[1] as string);
  }
  return names;
}

/** Leaf paths of a configuration and their values, for saying what a variable changed. */
function leaves(value: unknown, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value))
      for (const [p, v] of leaves(inner, prefix === '' ? key : `${prefix}.${key}`)) out.set(p, v);
  } else {
    out.set(prefix, value);
  }
  return out;
}

function changes(base: Config, other: Config): string[] {
  const before = leaves(base);
  return [...leaves(other)]
    .filter(([p, v]) => JSON.stringify(v) !== JSON.stringify(before.get(p)))
    .map(([p, v]) => `${p} ${JSON.stringify(before.get(p))} -> ${JSON.stringify(v)}`);
}

/** Whether loadConfig reads the variable at all: a nonsense value is refused or changes something. */
function readByService(name: string, base: Readonly<Record<string, string>>): boolean {
  try {
    return changes(loadConfig(base), loadConfig({ ...base, [name]: 'not-a-value-\u0001' })).length > 0;
  } catch (error) {
    return error instanceof ConfigError && error.problems.some((p) => p.startsWith(`${name}=`));
  }
}

test("every variable the default chart's ConfigMap sets carries the service's default, or a listed reason", async (t) => {
  const data = (findOne(await renderChart(4, []), 'ConfigMap') as { data: Record<string, string> }).data;
  // The deliberate values form the base, so defaults derived from them (ENGINE_WIDE_POOL_SIZE
  // from ENGINE_POOL_SIZE) are judged as the service derives them in the pod.
  const base: Record<string, string> = {};
  for (const name of Object.keys(DELIBERATE)) {
    const value = data[name];
    if (value === undefined)
      t.fail(`${name} is listed as deliberate but the chart no longer sets it: remove it from DELIBERATE`);
    else base[name] = value;
  }
  const defaults = loadConfig(base);
  const drift: string[] = [];
  for (const [name, value] of Object.entries(data)) {
    if (name in DELIBERATE) {
      t.true(readByService(name, base), `${name} (deliberate) is not read by the service: a typo?`);
      continue;
    }
    if (!readByService(name, base)) {
      drift.push(`${name}=${value}: the service does not read this variable`);
      continue;
    }
    let config: Config;
    try {
      config = loadConfig({ ...base, [name]: value });
    } catch (error) {
      drift.push(`${name}=${value}: refused by the service: ${String(error)}`);
      continue;
    }
    const changed = changes(defaults, config);
    if (changed.length > 0) drift.push(`${name}=${value} differs from the service's default: ${changed.join(', ')}`);
  }
  t.deepEqual(
    drift,
    [],
    'chart/values.yaml and app/config.ts disagree; align them, or list the variable in DELIBERATE with the reason',
  );
  t.true(Object.keys(data).length >= 40, `the ConfigMap carries every setting (${Object.keys(data).length})`);
});

test('the check itself catches a drifted default and a variable the service does not read', async (t) => {
  const data = (
    findOne(await renderChart(4, ['--set', 'admission.maxQueue=65']), 'ConfigMap') as { data: Record<string, string> }
  ).data;
  t.is(data.ADMISSION_MAX_QUEUE, '65');
  const defaultQueue = loadConfig({}).admission.maxQueue;
  t.not(defaultQueue, 65);
  t.deepEqual(changes(loadConfig({}), loadConfig({ ADMISSION_MAX_QUEUE: '65' })), [
    `admission.maxQueue ${defaultQueue} -> 65`,
  ]);
  t.false(readByService('ADMISSION_MAX_QUEUUE', {}));
  t.true(readByService('LOG_LEVEL', {}));
  t.true(readByService('MODEL_NAME', {}));
});

test("every setting in the README's configuration table is in the chart's ConfigMap, or listed with the reason it is not", async (t) => {
  const data = (findOne(await renderChart(4, []), 'ConfigMap') as { data: Record<string, string> }).data;
  const settings = readmeSettings();
  t.true(settings.length >= 40, `the README's configuration table was found (${settings.length} settings)`);
  const missing = settings.filter((name) => !(name in data) && !(name in NOT_IN_CONFIGMAP));
  t.deepEqual(
    missing,
    [],
    'add the setting to chart/templates/configmap.yaml (with a value in values.yaml), or to NOT_IN_CONFIGMAP with the reason',
  );
  for (const name of Object.keys(NOT_IN_CONFIGMAP))
    t.true(settings.includes(name), `${name} is listed in NOT_IN_CONFIGMAP but not in the README's table`);
});
