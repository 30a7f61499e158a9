// The Dockerfile's provenance promises, read from its text (the built image is checked by
// npm run test:image): base and syntax frontend pinned by digest, the base on the Node major
// that package.json's engines names, model labels whose fallbacks are the committed lock, both
// ports exposed, and a HEALTHCHECK that asks /health with node.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import YAML from 'yaml';
import { projectRoot } from '../../app/config.js';

const read = (file: string) => readFile(path.join(projectRoot(), file), 'utf8');
const DIGEST = /@sha256:[0-9a-f]{64}$/;

test('the syntax frontend and the base image are pinned by digest, on the Node major of engines', async (t) => {
  const dockerfile = await read('Dockerfile');
  const syntax = /^# syntax=(\S+)$/m.exec(dockerfile)?.[1] ?? '';
  t.regex(syntax, DIGEST, syntax);
  const base = /^ARG BASE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1] ?? '';
  t.regex(base, DIGEST, base);
  const pkg = JSON.parse(await read('package.json')) as { engines: { node: string } };
  const major = /(\d+)/.exec(pkg.engines.node)?.[1];
  t.regex(base, new RegExp(`^node:${major ?? 'x'}[.\\d]*-bookworm-slim@`), `${base} vs engines ${pkg.engines.node}`);
});

test('the model labels fall back to the committed lock, the one baked without MODEL_* arguments', async (t) => {
  const dockerfile = await read('Dockerfile');
  const lock = JSON.parse(await read('model.lock.json')) as { uri: string; md5: string };
  t.true(dockerfile.includes(`fasttext-edge.model.uri="\${MODEL_URI:-${lock.uri}}"`));
  t.true(dockerfile.includes(`fasttext-edge.model.md5="\${MODEL_MD5:-${lock.md5}}"`));
  for (const label of ['source', 'revision', 'version', 'created'])
    t.regex(dockerfile, new RegExp(`org\\.opencontainers\\.image\\.${label}="\\$\\{`), label);
});

test("both ports are exposed: the traffic port and the chart's management port, which the image listens on", async (t) => {
  const dockerfile = await read('Dockerfile');
  const values = YAML.parse(await read('chart/values.yaml')) as {
    containerPorts: { http: number; management: number };
  };
  t.deepEqual(
    /^EXPOSE (.+)$/m.exec(dockerfile)?.[1]?.split(/\s+/).map(Number).sort(),
    [values.containerPorts.http, values.containerPorts.management].sort(),
  );
  t.regex(dockerfile, new RegExp(`MANAGEMENT_PORT=${values.containerPorts.management}\\b`));
  t.regex(dockerfile, /^HEALTHCHECK .*\\\n\s+CMD \["node", "-e", ".*\/health/m);
});
