// Tightens the values.schema.json that @bitnami/readme-generator-for-helm derives from
// chart/values.yaml. The generator only knows each default's JSON type ("number" for every
// count, "string" for every enum), so on its own it accepts replicaCount 2.5, a negative
// period, `type: httpget` or a typo'd key. The rules below add what the values mean: integer
// ranges (Kubernetes' own minimums for probes), enums, patterns (md5, s3 uri, quantities),
// required probe fields, and `additionalProperties: false` on the top level and on every
// object the chart owns. Cross-value rules stay in the templates (_guardrails.tpl): a schema
// error would hide their message.
//
//   npm run chart:schema   (runs the generator, then this script, rewriting the schema in place)
//   node --import tsx scripts/chart-schema.ts <values.schema.json>
//
// Idempotent: every rule sets keywords, so running it twice gives the same file.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  required?: string[];
  oneOf?: JsonSchema[];
  [keyword: string]: unknown;
}

const integer = (minimum: number, maximum?: number): JsonSchema =>
  maximum === undefined ? { type: 'integer', minimum } : { type: 'integer', minimum, maximum };
const enumOf = (...values: string[]): JsonSchema => ({ type: 'string', enum: values });
const pattern = (regex: string): JsonSchema => ({ type: 'string', pattern: regex });
/** What JavaScript's trim() removes, as a class body helm (RE2) and JavaScript read alike: the non-ASCII ones as the characters themselves. */
const TRIMMED = '\\s\\v\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';

/** Kubernetes resource quantity, e.g. 500m, 2Gi, 1.5, 10G. */
const QUANTITY = '^[0-9]+(\\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$';
/** Prometheus duration, e.g. 30s, 1m. */
const DURATION = '^[0-9]+(ms|s|m|h)$';
const PERCENT = '^[0-9]+%$';
const PORT = integer(1, 65535);
const PROBE_FIELDS = [
  'enabled',
  'type',
  'path',
  'initialDelaySeconds',
  'periodSeconds',
  'timeoutSeconds',
  'successThreshold',
  'failureThreshold',
];

const intOrPercent: JsonSchema = { oneOf: [integer(0), pattern(PERCENT)] };
const intOrPercentOrEmpty: JsonSchema = { oneOf: [integer(0), pattern(`${PERCENT}|^$`)] };
const quantityValues: JsonSchema = {
  type: 'object',
  additionalProperties: { oneOf: [pattern(QUANTITY), { type: 'number', minimum: 0 }] },
};
const envVar: JsonSchema = {
  type: 'object',
  required: ['name'],
  properties: { name: pattern('^[A-Za-z_][A-Za-z0-9_]*$') },
};

function probeRules(key: string): Record<string, JsonSchema> {
  return {
    // successThreshold 1 for liveness/startup is a template guardrail, not a schema rule:
    // a schema error would hide the guardrail's message.
    [key]: { required: PROBE_FIELDS },
    [`${key}.type`]: enumOf('httpGet', 'tcpSocket'),
    [`${key}.path`]: pattern('^/'),
    [`${key}.initialDelaySeconds`]: integer(0),
    [`${key}.periodSeconds`]: integer(1),
    [`${key}.timeoutSeconds`]: integer(1),
    [`${key}.successThreshold`]: integer(1),
    [`${key}.failureThreshold`]: integer(1),
  };
}

/** Keywords set on the property at a dotted path ("" is the root). */
export const RULES: Readonly<Record<string, JsonSchema>> = {
  '': { $schema: 'http://json-schema.org/draft-07/schema#' },
  commonLabels: { additionalProperties: { type: 'string' } },
  commonAnnotations: { additionalProperties: { type: 'string' } },
  'image.repository': pattern('^\\S+$'),
  'image.digest': pattern('^(sha256:[0-9a-f]{64})?$'),
  'image.pullPolicy': enumOf('Always', 'IfNotPresent', 'Never'),
  imagePullSecrets: {
    items: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } },
  },
  // Empty means "the image's baked lock"; the template requires md5 whenever uri is set.
  // No whitespace at either end: the service trims its environment (JavaScript's trim()), S3
  // keys are not trimmed. helm's \s is ASCII only, so the rest of trim()'s set is spelled out.
  'model.uri': pattern(`^((s3://[^/\\s]+/.*[^${TRIMMED}])|(file://.*[^${TRIMMED}]))?$`),
  'model.md5': pattern('^([0-9a-f]{32})?$'),
  'model.sha256': pattern('^([0-9a-f]{64})?$'),
  'model.bytes': integer(0),
  'model.downloadRateBytesPerSecond': integer(1),
  'model.canaries': {
    items: {
      type: 'object',
      required: ['text', 'label', 'score'],
      additionalProperties: false,
      properties: {
        text: { type: 'string', minLength: 1 },
        label: { type: 'string', minLength: 1, pattern: '^\\S+$' },
        score: { type: 'number', minimum: 0, maximum: 1 },
      },
    },
  },
  'memorySizing.childOverhead': pattern(QUANTITY),
  'memorySizing.processOverhead': pattern(QUANTITY),
  'model.load': enumOf('eager', 'lazy'),
  'model.cache.sizeLimit': pattern(QUANTITY),
  'model.cache.medium': enumOf('', 'Memory'),
  'model.retry.baseMs': integer(1),
  'model.retry.maxMs': integer(1),
  'model.downloadStallMs': integer(100),
  's3.endpoint': pattern('^(https?://.+)?$'),
  's3.checksums': enumOf('when_required', 'when_supported'),
  'containerPorts.http': PORT,
  'containerPorts.management': PORT,
  listenBacklog: integer(1, 65535),
  logLevel: enumOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
  'engine.poolSize': integer(1, 256),
  'engine.callTimeoutMs': integer(1),
  'engine.stallMs': integer(10),
  'engine.restartBaseMs': integer(1),
  'engine.restartMaxMs': integer(1),
  'engine.widePoolSize': integer(1, 256),
  'engine.loadTimeoutMs': integer(0),
  'engine.niceness': integer(0, 19),
  'admission.shedHoldMs': integer(0, 5000),
  'engine.kTiers': pattern('^(none|[0-9]+(,[0-9]+)*)$'),
  'limits.maxBodyBytes': integer(1),
  'limits.maxTextChars': integer(1),
  'limits.maxBatch': integer(1),
  'limits.maxK': integer(1, 10000),
  'admission.maxInFlight': integer(1, 10_000),
  'admission.maxInFlightBytes': integer(1),
  'admission.maxQueue': integer(0),
  'admission.requestTimeoutMs': integer(10),
  'admission.retryAfterSeconds': integer(0),
  // null: derived by the service (not passed).
  'admission.queueDelayTargetMs': { oneOf: [integer(0, 60_000), { type: 'null' }] },
  'admission.queueDelayIntervalMs': integer(0, 600_000),
  'cache.maxBytes': integer(0),
  'http.bodyTimeoutMs': integer(100, 600_000),
  'http.maxBodyReaders': integer(1, 100_000),
  'canary.intervalMs': integer(100),
  'cache.maxKeys': integer(1),
  'cache.ttlSeconds': integer(1),
  'watchdog.maxEventLoopDelayMs': integer(10),
  'watchdog.engineStallMs': integer(100),
  extraEnv: { items: envVar },
  ...probeRules('livenessProbe'),
  ...probeRules('readinessProbe'),
  ...probeRules('startupProbe'),
  replicaCount: integer(0),
  'updateStrategy.type': enumOf('RollingUpdate', 'Recreate'),
  'updateStrategy.rollingUpdate.maxSurge': intOrPercent,
  'updateStrategy.rollingUpdate.maxUnavailable': intOrPercent,
  minReadySeconds: integer(0),
  progressDeadlineSeconds: integer(1),
  revisionHistoryLimit: integer(0),
  terminationGracePeriodSeconds: integer(0),
  'lifecycle.preStopSleepSeconds': integer(0),
  'shutdown.delaySeconds': integer(0),
  'shutdown.drainTimeoutSeconds': integer(0),
  // Native Kubernetes objects: any resource name, quantities as values.
  resources: {
    properties: { requests: quantityValues, limits: quantityValues },
    additionalProperties: false,
  },
  'podSecurityContext.runAsUser': integer(0),
  'podSecurityContext.runAsGroup': integer(0),
  'podSecurityContext.fsGroup': integer(0),
  'podSecurityContext.fsGroupChangePolicy': enumOf('Always', 'OnRootMismatch'),
  'podSecurityContext.seccompProfile.type': enumOf('RuntimeDefault', 'Localhost', 'Unconfined'),
  'containerSecurityContext.runAsUser': integer(0),
  'containerSecurityContext.runAsGroup': integer(0),
  'containerSecurityContext.seccompProfile.type': enumOf('RuntimeDefault', 'Localhost', 'Unconfined'),
  'tmpDir.sizeLimit': pattern(QUANTITY),
  podLabels: { additionalProperties: { type: 'string' } },
  podAnnotations: { additionalProperties: { type: 'string' } },
  'service.type': enumOf('ClusterIP', 'NodePort', 'LoadBalancer'),
  'service.port': PORT,
  'service.managementPort': PORT,
  'service.annotations': { additionalProperties: { type: 'string' } },
  'serviceAccount.annotations': { additionalProperties: { type: 'string' } },
  'autoscaling.minReplicas': integer(1),
  'autoscaling.maxReplicas': integer(1),
  'autoscaling.targetCPUUtilizationPercentage': integer(1),
  'pdb.minAvailable': intOrPercentOrEmpty,
  'pdb.maxUnavailable': intOrPercentOrEmpty,
  'ingress.pathType': enumOf('Prefix', 'Exact', 'ImplementationSpecific'),
  'ingress.path': pattern('^/'),
  'ingress.annotations': { additionalProperties: { type: 'string' } },
  'ingress.extraHosts': {
    items: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: { type: 'string' },
        path: pattern('^/'),
        pathType: enumOf('Prefix', 'Exact', 'ImplementationSpecific'),
      },
    },
  },
  'ingress.extraTls': {
    items: {
      type: 'object',
      properties: { hosts: { type: 'array', items: { type: 'string' } }, secretName: { type: 'string' } },
    },
  },
  'httpRoute.annotations': { additionalProperties: { type: 'string' } },
  'httpRoute.parentRefs': { items: { type: 'object', required: ['name'] } },
  'httpRoute.hostnames': { items: { type: 'string' } },
  'httpRoute.rules': { items: { type: 'object' } },
  'knative.minScale': integer(0),
  'knative.maxScale': integer(0),
  'knative.initialScale': integer(0),
  'knative.target': integer(0),
  'knative.scaleDownDelay': pattern('^([0-9]+(s|m|h))*$'),
  podAntiAffinityPreset: enumOf('auto', 'soft', 'hard', 'none'),
  extraVolumes: { items: { type: 'object', required: ['name'] } },
  extraVolumeMounts: { items: { type: 'object', required: ['name', 'mountPath'] } },
  extraEnvFrom: { items: { type: 'object' } },
  initContainers: { items: { type: 'object', required: ['name'] } },
  sidecars: { items: { type: 'object', required: ['name'] } },
  'metrics.serviceMonitor.interval': pattern(DURATION),
  'metrics.serviceMonitor.scrapeTimeout': pattern(`${DURATION}|^$`),
  'metrics.serviceMonitor.labels': { additionalProperties: { type: 'string' } },
  'metrics.serviceMonitor.relabelings': { items: { type: 'object' } },
  'metrics.serviceMonitor.metricRelabelings': { items: { type: 'object' } },
  'tests.timeoutSeconds': integer(1),
};

/** Objects the chart owns: an unknown key there is a typo, so it is refused. */
export const CLOSED_OBJECTS: readonly string[] = [
  '',
  'image',
  'model',
  'model.cache',
  'model.retry',
  'memorySizing',
  'http',
  'canary',
  's3',
  's3.existingSecretKeys',
  'containerPorts',
  'engine',
  'limits',
  'admission',
  'cache',
  'watchdog',
  'livenessProbe',
  'readinessProbe',
  'startupProbe',
  'updateStrategy',
  'updateStrategy.rollingUpdate',
  'lifecycle',
  'shutdown',
  'tmpDir',
  'diagnosticMode',
  'serviceAccount',
  'service',
  'networkPolicy',
  'ingress',
  'httpRoute',
  'knative',
  'autoscaling',
  'pdb',
  'metrics',
  'metrics.serviceMonitor',
  'tests',
];

export class SchemaRuleError extends Error {
  override readonly name = 'SchemaRuleError';
}

function nodeAt(root: JsonSchema, dotted: string): JsonSchema {
  if (dotted === '') return root;
  let node = root;
  for (const key of dotted.split('.')) {
    const next = node.properties?.[key];
    if (next === undefined) {
      throw new SchemaRuleError(
        `no property ${dotted} in the generated schema (renamed in values.yaml? update scripts/chart-schema.ts)`,
      );
    }
    node = next;
  }
  return node;
}

/** The generated schema with every rule applied; the input is not modified. */
export function tightenSchema(generated: JsonSchema): JsonSchema {
  const schema = structuredClone(generated);
  for (const [dotted, keywords] of Object.entries(RULES)) {
    const node = nodeAt(schema, dotted);
    // A oneOf carries its own types; a leftover generated "type" would contradict it.
    if (keywords.oneOf !== undefined) delete node.type;
    Object.assign(node, structuredClone(keywords));
  }
  for (const dotted of CLOSED_OBJECTS) {
    const node = nodeAt(schema, dotted);
    if (node.type !== 'object' || node.properties === undefined) {
      throw new SchemaRuleError(`${dotted || '(root)'} is not an object with properties in the generated schema`);
    }
    node.additionalProperties = false;
  }
  // $schema first, as readers expect it.
  const { $schema, ...rest } = schema;
  return { $schema, ...rest };
}

async function main(argv: readonly string[]): Promise<void> {
  const file = argv[0];
  if (file === undefined || argv.includes('--help')) {
    process.stdout.write('usage: node --import tsx scripts/chart-schema.ts <values.schema.json>\n');
    process.exitCode = file === undefined ? 2 : 0;
    return;
  }
  const generated = JSON.parse(await readFile(file, 'utf8')) as JsonSchema;
  await writeFile(file, `${JSON.stringify(tightenSchema(generated), null, 2)}\n`);
  process.stdout.write(
    `tightened ${file}: ${Object.keys(RULES).length} rules, ${CLOSED_OBJECTS.length} closed objects\n`,
  );
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`chart-schema: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
