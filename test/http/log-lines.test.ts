// Every line the service prints is one JSON object with each key once. JSON.parse keeps the
// last of two equal keys silently, and some log stores refuse such a line whole: the engine's
// "fastText process ready" and "ended" lines carried the child's pid as `pid`, beside the
// service's own `pid` that pino adds to every line.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { duplicateTopLevelKeys } from '../helpers/json-keys.js';
import { postJson, startService } from '../helpers/service.js';

test('the key scanner finds a repeated top-level key and nothing in nested objects or strings', (t) => {
  t.deepEqual(duplicateTopLevelKeys('{"a":1,"b":{"a":2},"a":3}'), ['a']);
  t.deepEqual(duplicateTopLevelKeys('{"a":"\\"a\\":","b":[{"a":1},{"a":2}],"c":"}"}'), []);
});

test('a start, classifications on every tier, and a stop print only JSON lines with each key once', async (t) => {
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'log-lines-'));
  const svc = await startService({ env: { MODEL_CACHE_DIR: cacheDir, LOG_LEVEL: 'debug' } });
  try {
    await svc.waitReady(20_000);
    for (const k of [1, 5, 100]) {
      const res = await postJson(`${svc.url}/v1/classify`, { texts: ['hello world', 'bonjour le monde'], k });
      t.is(res.status, 200);
    }
    await postJson(`${svc.url}/v1/classify`, { text: 5 }); // a 400 is logged too
  } finally {
    await svc.stop();
    rmSync(cacheDir, { recursive: true, force: true });
  }
  t.true(
    svc.logs.some((l) => l.msg === 'fastText process ready'),
    'the engine lines this test is about were printed',
  );
  const bad = svc.rawLogs.flatMap((line) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return [`not JSON: ${line}`];
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return [`not an object: ${line}`];
    const dup = duplicateTopLevelKeys(line);
    return dup.length === 0 ? [] : [`keys ${dup.join(', ')} twice: ${line}`];
  });
  t.deepEqual(bad, []);
  t.log(`${svc.rawLogs.length} lines checked`);
});
