import test from 'ava';
import fc from 'fast-check';
import { ConfigError, loadConfig } from '../../app/config.js';

test('defaults are what the README says', (t) => {
  const c = loadConfig({});
  t.is(c.port, 8080);
  t.is(c.model.load, 'eager');
  t.is(c.limits.maxBodyBytes, 1024 * 1024);
  t.is(c.limits.maxTextChars, 100_000);
  t.is(c.limits.maxBatch, 1000);
  t.is(c.limits.maxK, 100);
  t.true(c.cache.enabled);
  t.false(c.s3.forcePathStyle);
  t.is(c.s3.endpoint, undefined);
  t.is(c.managementPort, 0);
});

test('every bad value is reported at once, by name', (t) => {
  const error = t.throws(
    () =>
      loadConfig({
        PORT: '70000',
        MODEL_MD5: 'xyz',
        MODEL_URI: 'http://x/y',
        CACHE_ENABLED: 'maybe',
        MODEL_LOAD: 'soon',
        S3_ENDPOINT: 'localhost:9000',
      }),
    { instanceOf: ConfigError },
  );
  const text = error?.message ?? '';
  for (const name of ['PORT=70000', 'MODEL_MD5', 'MODEL_URI', 'CACHE_ENABLED', 'MODEL_LOAD', 'S3_ENDPOINT'])
    t.true(text.includes(name), name);
  t.is(error.problems.length, 6);
});

test('the SDK endpoint variables are honoured; S3_ENDPOINT wins', (t) => {
  t.is(loadConfig({ AWS_ENDPOINT_URL: 'http://a:1' }).s3.endpoint, 'http://a:1');
  t.is(loadConfig({ AWS_ENDPOINT_URL: 'http://a:1', AWS_ENDPOINT_URL_S3: 'http://b:2' }).s3.endpoint, 'http://b:2');
  t.is(loadConfig({ AWS_ENDPOINT_URL_S3: 'http://b:2', S3_ENDPOINT: 'http://c:3' }).s3.endpoint, 'http://c:3');
});

test('MODEL_MD5 is normalised to lowercase; inconsistent pairs are refused', (t) => {
  t.is(loadConfig({ MODEL_MD5: '340156704BB8C8E50C4ABF35A7EC2569' }).model.md5, '340156704bb8c8e50c4abf35a7ec2569');
  t.throws(() => loadConfig({ MODEL_RETRY_BASE_MS: '5000', MODEL_RETRY_MAX_MS: '100' }), { instanceOf: ConfigError });
  t.throws(() => loadConfig({ PORT: '9000', MANAGEMENT_PORT: '9000' }), { instanceOf: ConfigError });
});

// Hostile review, weakness 2: an interval shorter than the target refused every admitted waiter.
test('a queue delay interval shorter than the target is refused at start, naming both', (t) => {
  const error = t.throws(
    () => loadConfig({ ADMISSION_QUEUE_DELAY_TARGET_MS: '2000', ADMISSION_QUEUE_DELAY_INTERVAL_MS: '100' }),
    { instanceOf: ConfigError },
  );
  t.regex(error?.message ?? '', /ADMISSION_QUEUE_DELAY_INTERVAL_MS=100 .*ADMISSION_QUEUE_DELAY_TARGET_MS=2000/);
  t.is(error?.problems.length, 1);
  const equal = loadConfig({ ADMISSION_QUEUE_DELAY_TARGET_MS: '700', ADMISSION_QUEUE_DELAY_INTERVAL_MS: '700' });
  t.is(equal.admission.queueDelayIntervalMs, 700, 'an interval equal to the target is allowed');
  t.is(
    loadConfig({ ADMISSION_QUEUE_DELAY_TARGET_MS: '2000' }).admission.queueDelayIntervalMs,
    4000,
    'left unset, the interval is twice a target above 500 ms, not a contradiction',
  );
  t.is(loadConfig({}).admission.queueDelayIntervalMs, 1000);
  const countOnly = loadConfig({ ADMISSION_QUEUE_DELAY_TARGET_MS: '0', ADMISSION_QUEUE_DELAY_INTERVAL_MS: '100' });
  t.is(countOnly.admission.queueDelayIntervalMs, 100, 'with no target, any interval bounds the wait');
});

// A waiter the interval has not refused by its deadline gets a 504 after waiting for nothing
// (review: target 5000 with its derived interval 10000 = the timeout gave 297 of 400 x 504).
test('a queue delay interval not shorter than the request timeout is refused; left unset, it fits a short timeout', (t) => {
  for (const env of [
    { ADMISSION_QUEUE_DELAY_INTERVAL_MS: '10000' },
    { ADMISSION_QUEUE_DELAY_TARGET_MS: '0', ADMISSION_QUEUE_DELAY_INTERVAL_MS: '600000' },
    { ADMISSION_QUEUE_DELAY_TARGET_MS: '20000' },
    { ADMISSION_QUEUE_DELAY_TARGET_MS: '300', REQUEST_TIMEOUT_MS: '300' },
  ]) {
    const error = t.throws(() => loadConfig(env), { instanceOf: ConfigError }, JSON.stringify(env));
    t.regex(error?.message ?? '', /is not shorter than REQUEST_TIMEOUT_MS=/, JSON.stringify(env));
  }
  t.is(loadConfig({ REQUEST_TIMEOUT_MS: '1000' }).admission.queueDelayIntervalMs, 500, 'half a short timeout');
  t.is(
    loadConfig({ ADMISSION_QUEUE_DELAY_TARGET_MS: '5000' }).admission.queueDelayIntervalMs,
    5000,
    'twice a 5 s target would reach the 10 s timeout: half the timeout, which is still the target',
  );
  t.is(loadConfig({ ADMISSION_QUEUE_DELAY_INTERVAL_MS: '9999' }).admission.queueDelayIntervalMs, 9999);
});

// Review: REQUEST_TIMEOUT_MS=400 alone, or the documented maximum target alone, exited 2 with a
// message about an interval nobody had set.
test('a timeout or a target set alone starts: the unset one is derived to fit, and the other is never blamed', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 10, max: 1_000_000 }),
      fc.option(fc.integer({ min: 0, max: 60_000 })),
      (timeoutMs, target) => {
        const env: Record<string, string> = { REQUEST_TIMEOUT_MS: String(timeoutMs) };
        if (target !== null) env.ADMISSION_QUEUE_DELAY_TARGET_MS = String(target);
        if (target !== null && target >= timeoutMs) {
          const error = t.throws(() => loadConfig(env), { instanceOf: ConfigError });
          // The message names the two settings in conflict and how long the timeout must be.
          t.regex(
            error?.message ?? '',
            new RegExp(
              `ADMISSION_QUEUE_DELAY_TARGET_MS=${target} is not shorter than REQUEST_TIMEOUT_MS=${timeoutMs}.*${2 * target + 1}`,
            ),
          );
          t.notRegex(error?.message ?? '', /ADMISSION_QUEUE_DELAY_INTERVAL_MS/);
          return;
        }
        const { admission } = loadConfig(env);
        t.true(admission.queueDelayIntervalMs >= 1 && admission.queueDelayIntervalMs < timeoutMs);
        t.true(admission.queueDelayIntervalMs >= admission.queueDelayTargetMs);
        if (target === null) t.is(admission.queueDelayTargetMs, Math.min(500, Math.floor(timeoutMs / 2)));
      },
    ),
    { numRuns: 500 },
  );
  const short = loadConfig({ REQUEST_TIMEOUT_MS: '400' }).admission;
  t.deepEqual([short.queueDelayTargetMs, short.queueDelayIntervalMs], [200, 200]);
  const fitted = loadConfig({ ADMISSION_QUEUE_DELAY_TARGET_MS: '60000', REQUEST_TIMEOUT_MS: '120001' }).admission;
  t.is(fitted.queueDelayIntervalMs, 120_000, 'the timeout the message asks for fits twice the target');
  t.throws(() => loadConfig({ REQUEST_TIMEOUT_MS: '9' }), { message: /REQUEST_TIMEOUT_MS=9 is out of range \[10, / });
});

// Review: a set interval was called "derived", a derived target was named as if set, and the
// second of two problems was only reported once the first was fixed.
test('admission delay messages say which value was set and which derived, and list every problem at once', (t) => {
  const both = t.throws(
    () => loadConfig({ ADMISSION_QUEUE_DELAY_TARGET_MS: '10000', ADMISSION_QUEUE_DELAY_INTERVAL_MS: '30000' }),
    { instanceOf: ConfigError },
  );
  t.is(both?.problems.length, 2, both?.message);
  t.regex(both?.message ?? '', /ADMISSION_QUEUE_DELAY_TARGET_MS=10000 is not shorter than REQUEST_TIMEOUT_MS=10000/);
  t.regex(both?.message ?? '', /ADMISSION_QUEUE_DELAY_INTERVAL_MS=30000 is not shorter than REQUEST_TIMEOUT_MS=10000/);
  t.notRegex(both?.message ?? '', /derived interval/);
  const derivedTarget = t.throws(
    () => loadConfig({ REQUEST_TIMEOUT_MS: '800', ADMISSION_QUEUE_DELAY_INTERVAL_MS: '300' }),
    { instanceOf: ConfigError },
  );
  t.regex(
    derivedTarget?.message ?? '',
    /the queue delay target derived from REQUEST_TIMEOUT_MS=800 \(400, half of it\)/,
  );
  t.notRegex(derivedTarget?.message ?? '', /ADMISSION_QUEUE_DELAY_TARGET_MS=/);
  const defaultTarget = t.throws(() => loadConfig({ ADMISSION_QUEUE_DELAY_INTERVAL_MS: '300' }), {
    instanceOf: ConfigError,
  });
  t.regex(defaultTarget?.message ?? '', /derived from REQUEST_TIMEOUT_MS=10000 \(500, the default\)/);
});

// Review: ADMISSION_MAX_IN_FLIGHT_BYTES=8 (meant as MiB) started and ran every request alone.
test('a byte bound on work below one full body is refused at start, naming both settings', (t) => {
  const error = t.throws(() => loadConfig({ ADMISSION_MAX_IN_FLIGHT_BYTES: '8' }), { instanceOf: ConfigError });
  t.regex(
    error?.message ?? '',
    /ADMISSION_MAX_IN_FLIGHT_BYTES=8 is less than one full body \(MAX_BODY_BYTES=1048576\)/,
  );
  t.is(loadConfig({ ADMISSION_MAX_IN_FLIGHT_BYTES: '1048576' }).admission.maxInFlightBytes, 1_048_576);
  t.is(loadConfig({ MAX_BODY_BYTES: '16777216' }).admission.maxInFlightBytes, 8 * 16_777_216);
  t.throws(() => loadConfig({ MAX_BODY_BYTES: '16777216', ADMISSION_MAX_IN_FLIGHT_BYTES: '8388608' }), {
    instanceOf: ConfigError,
  });
});

test('ADMISSION_MAX_IN_FLIGHT has an upper bound: a million slots is no admission at all', (t) => {
  const error = t.throws(() => loadConfig({ ADMISSION_MAX_IN_FLIGHT: '1000000' }), { instanceOf: ConfigError });
  t.regex(error?.message ?? '', /ADMISSION_MAX_IN_FLIGHT=1000000 is out of range \[1, 10000\]/);
  t.is(loadConfig({ ADMISSION_MAX_IN_FLIGHT: '10000' }).admission.maxInFlight, 10_000);
});

// Weakness 1: count-only mode kept the 2048-deep queue meant for delay-based admission.
test('count-only mode (target 0) queues one round of slots unless ADMISSION_MAX_QUEUE says otherwise', (t) => {
  t.is(loadConfig({}).admission.maxQueue, 2048);
  t.is(loadConfig({ ADMISSION_QUEUE_DELAY_TARGET_MS: '0' }).admission.maxQueue, 64);
  t.is(loadConfig({ ADMISSION_QUEUE_DELAY_TARGET_MS: '0', ADMISSION_MAX_IN_FLIGHT: '4' }).admission.maxQueue, 4);
  t.is(loadConfig({ ADMISSION_QUEUE_DELAY_TARGET_MS: '0', ADMISSION_MAX_QUEUE: '300' }).admission.maxQueue, 300);
});
