// A request whose client closed the connection while it waited for an admission slot does no
// work once its turn comes (review: of 200 requests abandoned 20 ms after their body, 85 were
// classified, 85,019 texts for nobody). The engine is frozen (SIGSTOP of the service's own
// fastText children) so that the abandoned requests are certainly queued, not timed.
import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, portOf, post } from '../helpers/raw-http.js';
import { freePort, getJson, postJson, startService } from '../helpers/service.js';

const counter = (metrics: string, pattern: RegExp): number => Number(pattern.exec(metrics)?.[1] ?? 0);

test('requests abandoned while queued are skipped when their slot comes: counted client_gone, no text classified for them', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fte-gone-'));
  const svc = await startService({
    env: {
      MODEL_CACHE_DIR: dir,
      MANAGEMENT_PORT: String(await freePort()),
      CACHE_ENABLED: 'false',
      ADMISSION_MAX_IN_FLIGHT: '1',
      ADMISSION_QUEUE_DELAY_TARGET_MS: '0',
      ADMISSION_MAX_QUEUE: '100',
      ADMISSION_QUEUE_DELAY_INTERVAL_MS: '8000',
      REQUEST_TIMEOUT_MS: '10000',
      CANARY_INTERVAL_MS: '600000',
    },
  });
  // The service's direct children, from /proc (field 4 of stat is the parent's pid).
  const children = (): number[] =>
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
          return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === svc.pid;
        } catch {
          return false; // exited while listed
        }
      })
      .map(Number);
  let frozen: number[] = [];
  t.teardown(async () => {
    for (const pid of frozen) process.kill(pid, 'SIGCONT');
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await svc.waitReady(20_000);
  const metricsUrl = `${svc.managementUrl}/metrics`;
  const before = (await getJson(metricsUrl)).body as string;
  const texts = /^fasttext_texts_classified_total (\d+)/m;
  const gone = /^fasttext_admission_shed_total\{reason="client_gone"\} (\d+)/m;

  frozen = children();
  t.true(frozen.length > 0, 'the service has fastText children');
  for (const pid of frozen) process.kill(pid, 'SIGSTOP');
  // One request takes the only slot and waits for the frozen engine; ten more queue behind it.
  const first = postJson(`${svc.url}/v1/classify`, { text: 'the one that holds the slot' }, { timeoutMs: 15_000 });
  await new Promise((r) => setTimeout(r, 200));
  const sockets = await Promise.all(Array.from({ length: 10 }, () => connect(portOf(svc.url))));
  for (const [i, s] of sockets.entries())
    s.write(post('/v1/classify', JSON.stringify({ texts: [`gone ${i} a`, `gone ${i} b`] })));
  await new Promise((r) => setTimeout(r, 300));
  for (const s of sockets) s.destroy();
  await new Promise((r) => setTimeout(r, 200));
  for (const pid of frozen) process.kill(pid, 'SIGCONT');
  frozen = [];

  t.is((await first).status, 200, 'the request that held the slot is answered once the engine runs again');
  const after1 = await postJson(
    `${svc.url}/v1/classify`,
    { text: 'an ordinary request afterwards' },
    { timeoutMs: 5000 },
  );
  t.is(after1.status, 200);
  const after = (await getJson(metricsUrl)).body as string;
  t.is(counter(after, gone) - counter(before, gone), 10, 'each abandoned request was counted client_gone');
  t.is(
    counter(after, texts) - counter(before, texts),
    2,
    'only the two answered requests had texts classified: none of the 20 texts of the abandoned ones',
  );
});
