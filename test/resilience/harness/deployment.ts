// The Deployment controller's rolling update (pkg/controller/deployment/rolling.go), on Pods:
// - new pods are added while old + new (not terminating) < replicas + maxSurge;
// - old pods are deleted while the available pods (ready for minReadySeconds, not
//   terminating) stay at or above replicas - maxUnavailable; unready old pods go first;
// - terminating pods count for neither (a ReplicaSet does not count them), so the next
//   new pod starts while an old one is still in its preStop sleep and drain.
import { resolveRollingUpdate, type PodTemplate } from './chart-pod.js';
import type { Endpoints } from './endpoints.js';
import { Pod, type PodEvent } from './pod.js';
import type { TimeScale } from './scale.js';

export interface DeploymentOptions {
  readonly name: string;
  readonly scale: TimeScale;
  readonly endpoints: Endpoints;
  readonly extraEnv?: Readonly<Record<string, string>>;
  readonly onEvent?: (event: PodEvent) => void;
}

export interface RolloutStep {
  readonly at: number;
  readonly action: 'create' | 'delete';
  readonly pod: string;
  readonly available: number;
}

export class Deployment {
  readonly pods: Pod[] = [];
  readonly steps: RolloutStep[] = [];
  private readonly revisionOf = new Map<Pod, number>();
  private readonly deletions: Promise<void>[] = [];
  private revision = 0;
  private template: PodTemplate | undefined;

  constructor(private readonly options: DeploymentOptions) {}

  private get live(): Pod[] {
    return this.pods.filter((p) => !p.terminating);
  }

  private availableCount(): number {
    const minReady = this.options.scale.ms(this.template?.minReadySeconds ?? 0);
    return this.live.filter((p) => p.availableFor(minReady)).length;
  }

  private async createPod(template: PodTemplate): Promise<Pod> {
    const n = this.pods.filter((p) => this.revisionOf.get(p) === this.revision).length;
    const pod = await Pod.create({
      name: `${this.options.name}-r${this.revision}-${n}`,
      template,
      scale: this.options.scale,
      ...(this.options.extraEnv ? { extraEnv: this.options.extraEnv } : {}),
      ...(this.options.onEvent ? { onEvent: this.options.onEvent } : {}),
    });
    this.pods.push(pod);
    this.revisionOf.set(pod, this.revision);
    this.options.endpoints.watch(pod);
    this.steps.push({ at: Date.now(), action: 'create', pod: pod.name, available: this.availableCount() });
    pod.start();
    return pod;
  }

  private deletePod(pod: Pod): void {
    this.steps.push({ at: Date.now(), action: 'delete', pod: pod.name, available: this.availableCount() });
    this.deletions.push(pod.terminate());
  }

  /** Applies `template` as a new revision and drives the rollout until it completes or `timeoutMs` passes. */
  async rollout(template: PodTemplate, timeoutMs: number): Promise<void> {
    this.revision += 1;
    this.template = template;
    const replicas = template.replicas;
    const { maxSurge, maxUnavailable } = resolveRollingUpdate(template.strategy.rollingUpdate, replicas);
    const minReady = this.options.scale.ms(template.minReadySeconds);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = this.live;
      const current = live.filter((p) => this.revisionOf.get(p) === this.revision);
      const old = live.filter((p) => this.revisionOf.get(p) !== this.revision);
      if (old.length === 0 && current.length === replicas && current.every((p) => p.availableFor(minReady))) break;
      if (Date.now() > deadline) {
        throw new Error(
          `rollout to revision ${this.revision} not complete within ${timeoutMs} ms:\n${this.pods.map((p) => p.timeline()).join('\n')}`,
        );
      }
      // Scale up the new ReplicaSet within the surge.
      const room = Math.min(replicas + maxSurge - live.length, replicas - current.length);
      for (let i = 0; i < room; i++) await this.createPod(template);
      // Scale down the old ones (reconcileOldReplicaSets): never below replicas - maxUnavailable
      // available pods, counting the new pods that are not available yet; unavailable old pods first.
      const minAvailable = replicas - maxUnavailable;
      const all = this.live;
      const newUnavailable = all.filter(
        (p) => this.revisionOf.get(p) === this.revision && !p.availableFor(minReady),
      ).length;
      let maxScaledDown = all.length - minAvailable - newUnavailable;
      if (maxScaledDown > 0) {
        for (const pod of old.filter((p) => !p.availableFor(minReady))) {
          if (maxScaledDown <= 0) break;
          this.deletePod(pod);
          maxScaledDown -= 1;
        }
        let removable = this.availableCount() - minAvailable;
        for (const pod of old.filter((p) => !p.terminating)) {
          if (removable <= 0) break;
          this.deletePod(pod);
          removable -= 1;
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits for the pods being deleted (preStop, drain, exit). */
  async settled(): Promise<void> {
    await Promise.all(this.deletions);
  }

  /** Deletes every pod (end of the scenario). */
  async delete(): Promise<void> {
    for (const pod of this.live) this.deletePod(pod);
    await this.settled();
  }

  revisionOfPod(pod: Pod): number | undefined {
    return this.revisionOf.get(pod);
  }
}
