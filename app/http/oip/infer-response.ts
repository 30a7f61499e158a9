// Builds the OIP inference response: the requested outputs, in the order asked, each as JSON
// `data` or as binary tensor data after the JSON header. Rows with fewer than k predictions
// over the threshold are padded with "" and 0, because OIP tensors are rectangular.
import type { Prediction } from '../../engine/classifier.js';
import { encodeBytesElements, encodeFp32, joinBody } from './binary.js';
import type { InferPlan } from './infer-request.js';

export interface ModelRef {
  readonly name: string;
  readonly version: string;
}

export type InferReply =
  | { readonly kind: 'json'; readonly body: Record<string, unknown> }
  | { readonly kind: 'binary'; readonly body: Buffer; readonly headerLength: number };

export function inferReply(plan: InferPlan, results: readonly (readonly Prediction[])[], model: ModelRef): InferReply {
  const { k } = plan;
  const labels: string[] = [];
  const scores: number[] = [];
  for (const row of results) {
    for (let i = 0; i < k; i++) {
      const p = row[i];
      labels.push(p ? p.label : '');
      scores.push(p ? p.score : 0);
    }
  }
  const shape = [results.length, k];
  const tensors: Buffer[] = [];
  const outputs = plan.outputs.map((requested) => {
    const datatype = requested.name === 'label' ? 'BYTES' : 'FP32';
    if (!requested.binary)
      return { name: requested.name, datatype, shape, data: requested.name === 'label' ? labels : scores };
    const bytes = requested.name === 'label' ? encodeBytesElements(labels) : encodeFp32(scores);
    tensors.push(bytes);
    return { name: requested.name, datatype, shape, parameters: { binary_data_size: bytes.length } };
  });
  const header: Record<string, unknown> = { model_name: model.name, model_version: model.version, outputs };
  if (plan.id !== undefined) header.id = plan.id;
  if (tensors.length === 0) return { kind: 'json', body: header };
  return { kind: 'binary', ...joinBody(header, tensors) };
}
