// The pod the chart asks for, from the real `helm template` output: the container's
// environment (envFrom ConfigMaps, then env entries, ConfigMap and Secret references
// resolved as the kubelet resolves them), its ports, probes (Kubernetes defaults filled in),
// preStop hook, grace period, and the Deployment's replicas and rolling-update settings.
// Then the few remaps a local run needs, each stated so the output can print it.
import path from 'node:path';
import { helmMajorFromEnv, type HelmMajor } from '../../../scripts/helm/helm-binary.js';
import { CHART, findOne, renderChart, type Manifest } from '../../chart/chart-helm.js';
import type { ProbeAction, ProbeKind, ProbeSpec } from './probe.js';

export type Overlay = 'default' | 'dev' | 'staging' | 'prod';

export interface RenderOptions {
  readonly overlay: Overlay;
  /** Extra `helm template` arguments, e.g. ['--set', 's3.endpoint=...']. */
  readonly args?: readonly string[];
  /** Secrets the chart references by name (the cluster would hold them), name -> key -> value. */
  readonly secrets?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly helmMajor?: HelmMajor;
}

export interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
}

export interface RollingUpdate {
  readonly maxSurge: number | string;
  readonly maxUnavailable: number | string;
}

export interface PodTemplate {
  readonly overlay: Overlay;
  readonly helmMajor: HelmMajor;
  /** The helm arguments after the chart path, for the printout. */
  readonly helmArgs: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly ports: readonly ContainerPort[];
  readonly probes: Readonly<Partial<Record<ProbeKind, ProbeSpec>>>;
  readonly terminationGracePeriodSeconds: number;
  /** The preStop sleep action's seconds; 0 without a hook. */
  readonly preStopSleepSeconds: number;
  readonly replicas: number;
  readonly strategy: { readonly type: string; readonly rollingUpdate: RollingUpdate };
  readonly minReadySeconds: number;
}

type Doc = Record<string, unknown>;

function obj(value: unknown, what: string): Doc {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${what} is not an object`);
  return value as Doc;
}
function list(value: unknown): Doc[] {
  return Array.isArray(value) ? (value as Doc[]) : [];
}
function int(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}

/** Kubernetes' probe defaults (core/v1 types): period 10, timeout 1, thresholds 1 and 3, delay 0. */
function probeSpec(raw: unknown, kind: ProbeKind): ProbeSpec | undefined {
  if (raw === undefined || raw === null) return undefined;
  const p = obj(raw, `${kind}Probe`);
  let action: ProbeAction;
  if (p.httpGet !== undefined) {
    const h = obj(p.httpGet, `${kind}Probe.httpGet`);
    if (h.scheme !== undefined && h.scheme !== 'HTTP')
      throw new Error(`${kind}Probe: only HTTP probes are supported here, got ${JSON.stringify(h.scheme)}`);
    action = { type: 'httpGet', path: typeof h.path === 'string' ? h.path : '/', port: h.port as number | string };
  } else if (p.tcpSocket !== undefined) {
    action = { type: 'tcpSocket', port: obj(p.tcpSocket, `${kind}Probe.tcpSocket`).port as number | string };
  } else {
    throw new Error(`${kind}Probe: only httpGet and tcpSocket probes are supported here`);
  }
  const spec: ProbeSpec = {
    action,
    initialDelaySeconds: int(p.initialDelaySeconds, 0),
    periodSeconds: int(p.periodSeconds, 10),
    timeoutSeconds: int(p.timeoutSeconds, 1),
    successThreshold: int(p.successThreshold, 1),
    failureThreshold: int(p.failureThreshold, 3),
  };
  return typeof p.terminationGracePeriodSeconds === 'number'
    ? { ...spec, terminationGracePeriodSeconds: p.terminationGracePeriodSeconds }
    : spec;
}

function resolveEnv(
  container: Doc,
  manifests: readonly Manifest[],
  secrets: RenderOptions['secrets'],
): Record<string, string> {
  const configMap = (name: string): Record<string, string> => {
    const found = manifests.find(
      (m) => m.doc.kind === 'ConfigMap' && (m.doc.metadata as Doc | undefined)?.name === name,
    );
    if (found === undefined) throw new Error(`ConfigMap ${name} is referenced but not rendered by the chart`);
    return (found.doc.data ?? {}) as Record<string, string>;
  };
  const secret = (name: string): Readonly<Record<string, string>> => {
    const found = secrets?.[name];
    if (found === undefined)
      throw new Error(`Secret ${name} is referenced by the chart; pass it in RenderOptions.secrets`);
    return found;
  };
  const env: Record<string, string> = {};
  // envFrom first, then env entries, which win (the kubelet's order).
  for (const source of list(container.envFrom)) {
    const prefix = typeof source.prefix === 'string' ? source.prefix : '';
    const data =
      source.configMapRef !== undefined
        ? configMap(String(obj(source.configMapRef, 'configMapRef').name))
        : source.secretRef !== undefined
          ? secret(String(obj(source.secretRef, 'secretRef').name))
          : {};
    for (const [k, v] of Object.entries(data)) env[prefix + k] = String(v);
  }
  for (const entry of list(container.env)) {
    const name = String(entry.name);
    if (entry.value !== undefined) {
      env[name] = typeof entry.value === 'string' ? entry.value : JSON.stringify(entry.value);
      continue;
    }
    const from = entry.valueFrom === undefined ? undefined : obj(entry.valueFrom, `env ${name}.valueFrom`);
    if (from?.configMapKeyRef !== undefined) {
      const ref = obj(from.configMapKeyRef, 'configMapKeyRef');
      env[name] = String(configMap(String(ref.name))[String(ref.key)] ?? '');
    } else if (from?.secretKeyRef !== undefined) {
      const ref = obj(from.secretKeyRef, 'secretKeyRef');
      const value = secret(String(ref.name))[String(ref.key)];
      if (value === undefined) throw new Error(`Secret ${String(ref.name)} has no key ${String(ref.key)}`);
      env[name] = value;
    } else if (from !== undefined) {
      throw new Error(`env ${name}: only value, configMapKeyRef and secretKeyRef are supported here`);
    } else {
      env[name] = '';
    }
  }
  return env;
}

/** Renders the chart with the real helm and takes the one Deployment's pod apart. */
export async function renderPodTemplate(options: RenderOptions): Promise<PodTemplate> {
  const helmMajor = options.helmMajor ?? helmMajorFromEnv();
  const overlayArgs = options.overlay === 'default' ? [] : ['-f', path.join(CHART, `values-${options.overlay}.yaml`)];
  const helmArgs = [...overlayArgs, ...(options.args ?? [])];
  const manifests = await renderChart(helmMajor, helmArgs);
  const deployment = findOne(manifests, 'Deployment');
  const spec = obj(deployment.spec, 'Deployment.spec');
  const podSpec = obj(obj(obj(spec.template, 'spec.template').spec, 'spec.template.spec'), 'pod spec');
  const containers = list(podSpec.containers);
  if (containers.length !== 1) throw new Error(`expected one container, the chart renders ${containers.length}`);
  const container = containers[0] as Doc;

  const probes: Partial<Record<ProbeKind, ProbeSpec>> = {};
  for (const kind of ['startup', 'liveness', 'readiness'] as const) {
    const p = probeSpec(container[`${kind}Probe`], kind);
    if (p !== undefined) probes[kind] = p;
  }
  const preStop = (container.lifecycle as Doc | undefined)?.preStop as Doc | undefined;
  if (preStop !== undefined && preStop.sleep === undefined)
    throw new Error('only the preStop sleep action is supported here');
  const preStopSleepSeconds = preStop === undefined ? 0 : int(obj(preStop.sleep, 'preStop.sleep').seconds, 0);

  const hpa = manifests.find((m) => m.doc.kind === 'HorizontalPodAutoscaler');
  const replicas =
    typeof spec.replicas === 'number' ? spec.replicas : int((hpa?.doc.spec as Doc | undefined)?.minReplicas, 1);
  const strategy = obj(spec.strategy ?? { type: 'RollingUpdate' }, 'strategy');
  const rolling = (strategy.rollingUpdate ?? {}) as Doc;

  return {
    overlay: options.overlay,
    helmMajor,
    helmArgs,
    env: resolveEnv(container, manifests, options.secrets),
    ports: list(container.ports).map((p) =>
      typeof p.name === 'string'
        ? { name: p.name, containerPort: int(p.containerPort, 0) }
        : { containerPort: int(p.containerPort, 0) },
    ),
    probes,
    terminationGracePeriodSeconds: int(podSpec.terminationGracePeriodSeconds, 30),
    preStopSleepSeconds,
    replicas,
    strategy: {
      type: typeof strategy.type === 'string' ? strategy.type : 'RollingUpdate',
      rollingUpdate: {
        maxSurge: (rolling.maxSurge as number | string | undefined) ?? '25%',
        maxUnavailable: (rolling.maxUnavailable as number | string | undefined) ?? '25%',
      },
    },
    minReadySeconds: int(spec.minReadySeconds, 0),
  };
}

export interface LocalEnv {
  readonly env: Record<string, string>;
  /** What differs from the rendered pod, one line each. */
  readonly remaps: readonly string[];
}

/**
 * The rendered environment, adapted to a process on this machine: loopback only, ephemeral
 * ports (the service logs where it listens), the container's emptyDir paths replaced by the
 * pod's temp dirs.
 */
export function localEnv(template: PodTemplate, dirs: { readonly cacheDir: string }): LocalEnv {
  const env: Record<string, string> = { ...template.env };
  const remaps: string[] = [];
  const set = (name: string, value: string, why: string): void => {
    remaps.push(`${name}: ${JSON.stringify(template.env[name] ?? null)} -> ${JSON.stringify(value)} (${why})`);
    env[name] = value;
  };
  set('HOST', '127.0.0.1', 'loopback only; the container listens on all interfaces');
  if (env.PORT !== undefined) set('PORT', '0', 'an ephemeral port; the named container port resolves to it');
  if (env.MANAGEMENT_PORT !== undefined && env.MANAGEMENT_PORT !== '0') {
    // 0 turns the management listener off, so each container run gets a port that was free a moment before.
    set('MANAGEMENT_PORT', '<a free port per container run>', 'a local port; the named container port resolves to it');
  }
  if (env.MODEL_CACHE_DIR !== undefined)
    set(
      'MODEL_CACHE_DIR',
      dirs.cacheDir,
      "the pod's emptyDir: a temp dir that outlives container restarts and goes with the pod",
    );
  return { env, remaps };
}

/** Kubernetes' rounding of rolling-update values: surge rounds up, unavailable rounds down. */
export function resolveRollingUpdate(
  rolling: RollingUpdate,
  replicas: number,
): { readonly maxSurge: number; readonly maxUnavailable: number } {
  const resolve = (v: number | string, roundUp: boolean): number => {
    if (typeof v === 'number') return v;
    const m = /^(\d+)%$/.exec(v);
    if (m === null) return Number(v);
    const exact = (Number(m[1]) * replicas) / 100;
    return roundUp ? Math.ceil(exact) : Math.floor(exact);
  };
  let maxSurge = resolve(rolling.maxSurge, true);
  let maxUnavailable = resolve(rolling.maxUnavailable, false);
  // Both 0 after rounding: the deployment controller makes maxUnavailable 1.
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  maxSurge = Math.max(0, maxSurge);
  return { maxSurge, maxUnavailable };
}
