// What the orchestrator asks of the load generator process, and how requests are shaped
// for each kind of contender. Shared by load.ts (parent) and loadgen.ts (child).
import type { ContenderId, LoadRun } from './results.js';

/** POST /v1/classify {"text"} | POST /v1/classify {"texts": [...]} | GET /?text= (the peer). */
export type RequestShape = 'json-single' | 'json-batch' | 'query-single';

export interface LoadSpec {
  readonly contender: ContenderId;
  readonly port: number;
  readonly shape: RequestShape;
  /** JSON array of texts written by the orchestrator. */
  readonly corpusFile: string;
  readonly connections: number;
  readonly durationS: number;
  /** autocannon overallRate, or null for a closed loop. */
  readonly rateCap: number | null;
  readonly batchSize: number;
  readonly timeoutS: number;
  /**
   * Responses and sends in the first seconds are left out of the figures (connection
   * errors and timeouts are not): 500 connections opening at once make a connect storm
   * whose first requests would otherwise dominate the p99 of a short run.
   */
  readonly measureAfterS: number;
}

export interface LoadRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export type ToWorker = { readonly id: number; readonly spec: LoadSpec };
export type FromWorker =
  | { readonly id: number; readonly ok: true; readonly run: LoadRun }
  | { readonly id: number; readonly ok: false; readonly error: string };

const JSON_HEADERS = { 'content-type': 'application/json' };

/** The `index`-th request of a shape: texts are taken in corpus order, wrapping around. */
export function buildRequest(
  shape: RequestShape,
  texts: readonly string[],
  index: number,
  batchSize: number,
): LoadRequest {
  const n = texts.length;
  switch (shape) {
    case 'json-single':
      return {
        method: 'POST',
        path: '/v1/classify',
        headers: JSON_HEADERS,
        body: JSON.stringify({ text: texts[index % n] }),
      };
    case 'json-batch': {
      const batch: string[] = [];
      for (let i = 0; i < batchSize; i++) batch.push(texts[(index * batchSize + i) % n] as string);
      return { method: 'POST', path: '/v1/classify', headers: JSON_HEADERS, body: JSON.stringify({ texts: batch }) };
    }
    case 'query-single':
      return { method: 'GET', path: `/?text=${encodeURIComponent(texts[index % n] as string)}` };
  }
}

/** Distinct requests each connection cycles through: enough variety, bounded build cost. */
export function requestsPerConnection(connections: number): number {
  return Math.min(256, Math.max(8, Math.ceil(16_384 / connections)));
}
