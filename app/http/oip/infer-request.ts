// Turns an OIP inference request (JSON object + optional binary tail) into what the classifier
// needs, checking it against the model's metadata: one BYTES input named `text` of shape [N]
// or [N, 1] (data flat or nested, or binary), and the outputs asked for by name.
import { ApiError } from '../errors.js';
import { checkTexts, isRecord, parseParams, type Limits } from '../validate.js';
import { decodeBytesElements } from './binary.js';

export const INPUT_NAME = 'text';
export const OUTPUT_NAMES = ['label', 'score'] as const;
export type OutputName = (typeof OUTPUT_NAMES)[number];

export interface RequestedOutput {
  readonly name: OutputName;
  /** Sent as binary tensor data after the JSON (the extension's `binary_data`). */
  readonly binary: boolean;
}

export interface InferPlan {
  readonly id: string | undefined;
  readonly texts: string[];
  readonly k: number;
  readonly threshold: number;
  readonly outputs: readonly RequestedOutput[];
}

function bad(message: string): ApiError {
  return new ApiError(400, 'invalid_request', message);
}

function optionalBool(value: unknown, field: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw bad(`${field} must be a boolean`);
  return value;
}

function parametersOf(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw bad(`${field} must be an object`);
  for (const key of Object.keys(value)) {
    // Shared memory and Triton's classification extension are not offered (GET /v2 lists
    // what is); ignoring them would answer something other than what was asked.
    if (key.startsWith('shared_memory_')) throw bad(`${field}.${key}: the shared-memory extension is not supported`);
    if (key === 'classification')
      throw bad(`${field}.${key}: the classification extension is not supported; use the label and score outputs`);
  }
  return value;
}

/** Accepts [N] or [N, 1]: the batched-text shapes Triton-style clients send. */
function checkShape(shape: unknown): number[] {
  const ok =
    Array.isArray(shape) &&
    (shape.length === 1 || (shape.length === 2 && shape[1] === 1)) &&
    shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0);
  if (!ok) throw bad(`inputs[0].shape must be [N] or [N, 1], got ${JSON.stringify(shape)}`);
  return shape as number[];
}

/** Row-major elements of `data` given flat, or nested exactly as `shape` says. */
function flatten(data: unknown[], shape: readonly number[]): unknown[] {
  const count = shape.reduce((a, b) => a * b, 1);
  if (!data.some(Array.isArray)) {
    if (data.length !== count)
      throw bad(`inputs[0].data holds ${data.length} elements but shape ${JSON.stringify(shape)} needs ${count}`);
    return data;
  }
  const out: unknown[] = [];
  const walk = (node: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(node)) throw bad(`${path} is nested deeper than shape ${JSON.stringify(shape)}`);
      out.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw bad(`${path} must be an array of ${shape[depth]} to match shape ${JSON.stringify(shape)}`);
    }
    node.forEach((child, i) => walk(child, depth + 1, `${path}[${i}]`));
  };
  walk(data, 0, 'inputs[0].data');
  return out;
}

function readInput(input: unknown, tail: Buffer, limits: Limits): string[] {
  if (!isRecord(input)) throw bad('inputs[0] must be an object');
  if (input.name !== INPUT_NAME)
    throw bad(`unknown input ${JSON.stringify(input.name)}: this model has one input, ${JSON.stringify(INPUT_NAME)}`);
  if (input.datatype !== 'BYTES')
    throw bad(`input ${INPUT_NAME} has datatype BYTES, got ${JSON.stringify(input.datatype)}`);
  const shape = checkShape(input.shape);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count > limits.maxBatch) {
    throw new ApiError(
      422,
      'batch_too_large',
      `inputs[0] holds ${count} texts; at most ${limits.maxBatch} are allowed`,
    );
  }
  const params = parametersOf(input.parameters, 'inputs[0].parameters');
  let elements: unknown[];
  if (params.binary_data_size !== undefined) {
    const size = params.binary_data_size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      throw bad('inputs[0].parameters.binary_data_size must be a non-negative integer');
    if (input.data !== undefined) throw bad('inputs[0] has both `data` and binary_data_size; send one');
    if (size !== tail.length) {
      throw bad(`inputs[0].parameters.binary_data_size is ${size} but ${tail.length} bytes follow the JSON header`);
    }
    elements = decodeBytesElements(tail, 'inputs[0] binary data');
    if (elements.length !== count)
      throw bad(
        `inputs[0] binary data holds ${elements.length} elements but shape ${JSON.stringify(shape)} needs ${count}`,
      );
  } else {
    if (tail.length > 0)
      throw bad(`${tail.length} bytes follow the JSON header but no input declares binary_data_size`);
    if (!Array.isArray(input.data))
      throw bad('inputs[0].data must be an array of strings (or send binary data with binary_data_size)');
    elements = flatten(input.data, shape);
  }
  return checkTexts(elements, 'inputs[0].data', limits);
}

function readOutputs(outputs: unknown, binaryByDefault: boolean): RequestedOutput[] {
  if (outputs === undefined || outputs === null) return OUTPUT_NAMES.map((name) => ({ name, binary: binaryByDefault }));
  if (!Array.isArray(outputs)) throw bad('`outputs` must be an array');
  if (outputs.length === 0) return OUTPUT_NAMES.map((name) => ({ name, binary: binaryByDefault }));
  const seen = new Set<string>();
  return outputs.map((output: unknown, i) => {
    if (!isRecord(output) || typeof output.name !== 'string')
      throw bad(`outputs[${i}] must be an object with a string \`name\``);
    const name = output.name;
    if (!(OUTPUT_NAMES as readonly string[]).includes(name)) {
      throw bad(
        `unknown output ${JSON.stringify(name)}: this model's outputs are ${OUTPUT_NAMES.map((n) => JSON.stringify(n)).join(' and ')}`,
      );
    }
    if (seen.has(name)) throw bad(`output ${JSON.stringify(name)} is requested twice`);
    seen.add(name);
    const params = parametersOf(output.parameters, `outputs[${i}].parameters`);
    const binary = optionalBool(params.binary_data, `outputs[${i}].parameters.binary_data`) ?? binaryByDefault;
    return { name: name as OutputName, binary };
  });
}

export function readInferRequest(body: unknown, tail: Buffer, limits: Limits): InferPlan {
  if (!isRecord(body)) throw bad('the body must be a JSON object');
  if (body.id !== undefined && typeof body.id !== 'string') throw bad('`id` must be a string');
  const params = parametersOf(body.parameters, 'parameters');
  const { k, threshold } = parseParams(params.k, params.threshold, limits);
  const binaryByDefault = optionalBool(params.binary_data_output, 'parameters.binary_data_output') ?? false;
  const inputs = body.inputs;
  if (!Array.isArray(inputs) || inputs.length !== 1)
    throw bad(`\`inputs\` must hold exactly one tensor, ${JSON.stringify(INPUT_NAME)}`);
  const outputs = readOutputs(body.outputs, binaryByDefault);
  const texts = readInput(inputs[0], tail, limits);
  return { id: body.id, texts, k, threshold, outputs };
}
