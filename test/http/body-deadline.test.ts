// A body that stops arriving is answered 408 at its deadline: BODY_TIMEOUT_MS from the
// request's start, or the request's own deadline (REQUEST_TIMEOUT_MS) when that comes first.
// Both APIs name the one they applied, and the answer comes at that time, not at the other.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { portOf, rawRequest } from '../helpers/raw-http.js';
import { startService } from '../helpers/service.js';

/** A POST declaring 100 bytes and sending 4 of them. */
const partial = (route: string): string =>
  `POST ${route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"te`;

const CASES: ReadonlyArray<{ name: string; env: Readonly<Record<string, string>>; applied: number }> = [
  { name: 'BODY_TIMEOUT_MS', env: { BODY_TIMEOUT_MS: '800' }, applied: 800 },
  {
    name: 'the request deadline, when sooner',
    env: { BODY_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '700' },
    applied: 700,
  },
];

for (const c of CASES) {
  test(`a stalled body is refused at ${c.name}, on v1 and OIP alike, and the 408 names it`, async (t) => {
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'fte-bodydl-'));
    t.teardown(() => rmSync(cacheDir, { recursive: true, force: true }));
    const svc = await startService({ env: { MODEL_CACHE_DIR: cacheDir, ...c.env } });
    t.teardown(() => svc.stop());
    await svc.waitReady(20_000);
    for (const route of ['/v1/classify', '/v2/models/lid176/infer']) {
      const r = await rawRequest(portOf(svc.url), partial(route), 8_000);
      t.is(r.status, 408, `${route}: ${r.raw.slice(0, 300)}`);
      t.true(r.raw.includes(`did not arrive within ${c.applied} ms`), `${route}: ${r.raw.slice(-200)}`);
      // Generous upward (a busy machine), but never the other, longer deadline.
      t.true(
        r.elapsedMs >= c.applied - 50 && r.elapsedMs < c.applied + 2_000,
        `${route}: after ${Math.round(r.elapsedMs)} ms`,
      );
    }
  });
}
