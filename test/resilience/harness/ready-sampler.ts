// Polls a pod's /ready every 50 ms (each with a 1 s deadline): the service's own readiness and
// its reason, finer grained than the kubelet's period, for scenarios that time recoveries or
// need to see why the pod was not ready.
export interface ReadySample {
  /** When the request was sent. */
  readonly at: number;
  /** When its answer (or failure) came: a request sent just before a change can be answered after it. */
  readonly answeredAt: number;
  /** 0 when no answer came. */
  readonly status: number;
  readonly reason?: string;
}

export interface ReadySampler {
  readonly samples: ReadySample[];
  stop(): Promise<void>;
}

export function sampleReadiness(url: string, everyMs = 50): ReadySampler {
  const samples: ReadySample[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const at = Date.now();
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
        const body = (await res.json().catch(() => ({}))) as { reason?: unknown };
        const answeredAt = Date.now();
        samples.push(
          typeof body.reason === 'string'
            ? { at, answeredAt, status: res.status, reason: body.reason }
            : { at, answeredAt, status: res.status },
        );
      } catch {
        samples.push({ at, answeredAt: Date.now(), status: 0 });
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    samples,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
