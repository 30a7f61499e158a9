// The early engine on a cached file (app/lifecycle-early-engine.ts), in-process over the
// fakes (test/lifecycle/fakes.ts says why): the store's hash and the engine's load are latches
// opened in the orders a real machine produces only by chance. The file itself is real: the
// identity checks lstat it. End to end with the real store and binary: test/http/cold-start.test.ts.
import test from 'ava';
import { lstatSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ExecutionContext } from 'ava';
import type { FileIdentity, ModelCandidate, VerifiedModel } from '../../app/model/types.js';
import { harness, MD5, settle, until, verified, type Harness } from './fakes.js';

function cachedFile(t: ExecutionContext): ModelCandidate {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fte-early-engine-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, `${MD5}.bin`);
  writeFileSync(file, Buffer.alloc(1000, 7));
  return { path: file, identity: identityOf(file) };
}

function identityOf(file: string): FileIdentity {
  const st = lstatSync(file);
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

/** The store's answer for the candidate's file with the identity it hashed. */
function hashedAs(candidate: ModelCandidate, identity = candidate.identity): () => VerifiedModel {
  return () => ({ ...verified(candidate.path), identity });
}

/** Writes the file so its identity moves (mtime set a minute on: a coarse clock cannot hide it). */
function writeTo(file: string): void {
  writeFileSync(file, Buffer.alloc(1000, 9));
  const later = new Date(Date.now() + 60_000);
  utimesSync(file, later, later);
}

/** A lifecycle booted on a cached file the store is hashing, its early engine started. */
async function bootedOnCachedFile(
  t: ExecutionContext,
  hashed = true,
): Promise<{ readonly h: Harness; readonly candidate: ModelCandidate }> {
  const h = harness();
  const candidate = cachedFile(t);
  h.provider.candidate = candidate;
  if (hashed) h.provider.result = hashedAs(candidate);
  h.lifecycle.boot();
  await until('the early engine', () => h.engines[0]?.startCalled === true);
  return { h, candidate };
}

async function counterValue(h: Harness, name: string): Promise<number> {
  const metric = (await h.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values ?? []).reduce((n, v) => n + v.value, 0);
}

const classifyError = async (h: Harness): Promise<string> =>
  h.lifecycle.classify(['hello'], 1, 0, performance.now() + 1000).then(
    () => 'answered',
    (e: Error) => e.name,
  );

test('a cached file: the engine starts while it is hashed, serves nothing before the hash matches, and is the one that serves', async (t) => {
  const h = harness();
  const candidate = cachedFile(t);
  h.provider.candidate = candidate;
  h.provider.result = hashedAs(candidate);
  h.lifecycle.boot();
  await until('the early engine', () => h.engines.length === 1 && h.engines[0]!.startCalled);
  t.is(h.lifecycle.readiness().reason, 'verifying');
  // Its spawn check passes on the file as found.
  await t.notThrowsAsync(h.engines[0]!.hooks.beforeSpawn(candidate.path));

  h.engineGate.resolve(); // loaded, the hash still running
  await settle();
  t.is(h.lifecycle.state, 'loading');
  t.is(await classifyError(h), 'NotReadyError');
  t.is(h.engines[0]!.predictCalls.length, 0, 'not even a canary before the hash matched');

  h.provider.gate.resolve();
  await until('ready', () => h.lifecycle.state === 'ready');
  t.is(h.engines.length, 1, 'no second engine');
  t.false(h.engines[0]!.stopped);
  t.is(await classifyError(h), 'answered');
  t.truthy(h.logs.find((l) => l.event === 'early_engine_start' && l.path === candidate.path));
});

test('the hash verified another file (re-fetched after a mismatch): the early engine is stopped unused and a new one serves', async (t) => {
  const h = harness();
  const candidate = cachedFile(t);
  h.provider.candidate = candidate;
  h.provider.result = hashedAs(candidate, { ...candidate.identity, ino: candidate.identity.ino + 1 });
  h.engineGate.resolve();
  h.lifecycle.boot();
  await until('the early engine loaded', () => h.engines[0]?.running === true);
  h.provider.gate.resolve();
  await until('ready', () => h.lifecycle.state === 'ready');
  const [early, serving] = h.engines;
  t.true(early!.stopped);
  t.is(early!.predictCalls.length, 0, 'the early engine answered nothing, canaries included');
  t.false(serving!.stopped);
  t.true(serving!.predictCalls.length > 0);
  t.truthy(h.logs.find((l) => l.event === 'early_engine_discarded'));
});

test('the file written after its hash while the early engine loaded: that engine is stopped unused, the file checked again, a new engine serves', async (t) => {
  const { h, candidate } = await bootedOnCachedFile(t);
  h.provider.gate.resolve(); // the hash matched the bytes as found
  await settle();
  writeTo(candidate.path); // then the file moved under the loading child
  h.provider.candidate = undefined;
  h.provider.result = undefined;
  h.engineGate.resolve();
  await until('ready', () => h.lifecycle.state === 'ready');
  const [early, serving] = h.engines;
  t.true(early!.stopped);
  t.is(early!.predictCalls.length, 0);
  t.false(serving!.stopped);
  t.is(h.provider.calls.length, 2, 'the file was fetched and verified again');
  t.truthy(h.logs.find((l) => l.event === 'early_engine_discarded' && l.path === candidate.path));
});

test('a spawn check before the hash ends refuses a file written since it was found, and any other path', async (t) => {
  const { h, candidate } = await bootedOnCachedFile(t, false);
  const { beforeSpawn } = h.engines[0]!.hooks;
  await t.throwsAsync(beforeSpawn(`${candidate.path}.other`), { message: /changed before it was verified/ });
  writeTo(candidate.path);
  await t.throwsAsync(beforeSpawn(candidate.path), { message: /changed before it was verified/ });
  await h.lifecycle.stop();
});

test('SIGTERM while the early engine loads and the hash runs: the early engine is stopped and nothing starts', async (t) => {
  const { h } = await bootedOnCachedFile(t);
  h.lifecycle.beginDraining();
  await until('the early engine stopped', () => h.engines[0]!.stopped);
  h.engineGate.resolve();
  h.provider.gate.resolve();
  await settle(20);
  t.is(h.engines.length, 1);
  t.is(h.lifecycle.state, 'draining');
  t.is(h.engines[0]!.predictCalls.length, 0);
});

test('a candidate announced while an engine already runs (a re-fetch after a changed file) starts no second engine', async (t) => {
  const h = harness();
  h.engineGate.resolve();
  h.provider.gate.resolve();
  h.lifecycle.boot();
  await until('ready', () => h.lifecycle.state === 'ready');
  const candidate = cachedFile(t);
  h.provider.candidate = candidate;
  // The store is asked again (the first file changed); it announces a cached file to hash.
  h.engines[0]!.hooks.onModelRejected('the file changed');
  await until('ready again', () => h.lifecycle.state === 'ready' && h.provider.calls.length === 2);
  t.is(h.engines.length, 1);
  t.false(h.logs.some((l) => l.event === 'early_engine_start'));
  await h.lifecycle.stop();
});

test('the store moves on without verifying the file it announced (a mismatch, then a download): the early engine stops at once, and its refusals never reach readiness', async (t) => {
  const { h } = await bootedOnCachedFile(t, false);
  // Its spawn check refusing (the file went) is the early engine's own business.
  h.engines[0]!.hooks.onModelRejected('the file changed before it was verified');
  await until('the early engine stopped', () => h.engines[0]!.stopped);
  t.is(h.lifecycle.readiness().reason, 'verifying', 'readiness does not say model_changed');
  t.false(h.logs.some((l) => l.event === 'model_rejected'));

  const second = harness();
  second.provider.candidate = cachedFile(t);
  second.lifecycle.boot();
  await until('the early engine', () => second.engines[0]?.startCalled === true);
  second.provider.calls[0]?.onProgress?.({ phase: 'md5_mismatch', detail: 'cached copy failed' });
  await until('stopped on the failure', () => second.engines[0]!.stopped);
  second.engines[0]!.hooks.onRestart('a child died');
  t.is(await counterValue(second, 'fasttext_engine_restarts_total'), 0, 'a discarded engine counts no restart');
  second.provider.candidate = undefined;
  second.engineGate.resolve();
  second.provider.gate.resolve();
  await until('ready', () => second.lifecycle.state === 'ready');
  t.is(second.engines.length, 2);
  t.is(second.engines[0]!.predictCalls.length, 0);
  await Promise.all([h.lifecycle.stop(), second.lifecycle.stop()]);
});
