// `helm test` check, run as `node -e` in the service's own image (a slim Node image has no
// curl). Waits for /ready (200) until a deadline, then classifies one text and checks the
// answer's shape: a first prediction with a string label and a numeric score, and the
// expected label when one is given. Exit status 0 = pass. Settings come from the env:
// READY_URL, CLASSIFY_URL, TEXT, EXPECTED_LABEL (may be empty), READY_TIMEOUT_SECONDS.
'use strict';
const env = process.env;
const deadline = Date.now() + Number(env.READY_TIMEOUT_SECONDS) * 1000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const remaining = () => Math.max(1, deadline - Date.now());

async function waitReady() {
  for (;;) {
    try {
      const res = await fetch(env.READY_URL, { signal: AbortSignal.timeout(Math.min(5000, remaining())) });
      const body = await res.text();
      if (res.status === 200) return console.log(`ready: ${env.READY_URL} answered 200`);
      console.log(`not ready yet: ${env.READY_URL} answered ${res.status} ${body.slice(0, 200)}`);
    } catch (error) {
      console.log(`not ready yet: ${env.READY_URL}: ${error.message}`);
    }
    if (Date.now() >= deadline) throw new Error(`${env.READY_URL} not 200 within ${env.READY_TIMEOUT_SECONDS} s`);
    await sleep(Math.min(2000, remaining()));
  }
}

async function classifyOnce() {
  const res = await fetch(env.CLASSIFY_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: env.TEXT }),
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${env.CLASSIFY_URL} answered ${res.status}: ${text.slice(0, 300)}`);
  const top = JSON.parse(text).predictions?.[0];
  if (top === undefined || typeof top.label !== 'string' || typeof top.score !== 'number') {
    throw new Error(`no prediction with a string label and a numeric score in ${text.slice(0, 300)}`);
  }
  if (env.EXPECTED_LABEL && top.label !== env.EXPECTED_LABEL) {
    throw new Error(`expected label ${env.EXPECTED_LABEL}, got ${top.label} (${top.score})`);
  }
  console.log(`classified: ${top.label} ${top.score}`);
}

waitReady()
  .then(classifyOnce)
  .then(
    () => process.exit(0),
    (error) => {
      console.error(`helm test failed: ${error.message}`);
      process.exit(1);
    },
  );
