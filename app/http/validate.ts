// Validation of classification inputs shared by /v1/classify and the OIP infer route:
// 400 for a malformed field, 422 for a well-formed request over a configured limit.
import type { Config } from '../config.js';
import { ApiError } from './errors.js';

export type Limits = Config['limits'];

export interface ClassifyParams {
  readonly k: number;
  readonly threshold: number;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseParams(k: unknown, threshold: unknown, limits: Limits): ClassifyParams {
  let kk = 1;
  if (k !== undefined && k !== null) {
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1)
      throw new ApiError(400, 'invalid_request', '`k` must be an integer >= 1');
    if (k > limits.maxK) throw new ApiError(422, 'k_too_large', `\`k\` must be at most ${limits.maxK}`);
    kk = k;
  }
  let th = 0;
  if (threshold !== undefined && threshold !== null) {
    if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < 0 || threshold > 1) {
      throw new ApiError(400, 'invalid_request', '`threshold` must be a number between 0 and 1');
    }
    th = threshold;
  }
  return { k: kk, threshold: th };
}

export function checkTexts(texts: readonly unknown[], field: string, limits: Limits): string[] {
  if (texts.length === 0) throw new ApiError(400, 'invalid_request', `\`${field}\` must not be empty`);
  if (texts.length > limits.maxBatch)
    throw new ApiError(
      422,
      'batch_too_large',
      `\`${field}\` holds ${texts.length} texts; at most ${limits.maxBatch} are allowed`,
    );
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i];
    // A single `text` is named as the client sent it, not as an element.
    const name = field === 'text' ? field : `${field}[${i}]`;
    if (typeof t !== 'string') throw new ApiError(400, 'invalid_request', `\`${name}\` must be a string`);
    if (t.length > limits.maxTextChars)
      throw new ApiError(
        422,
        'text_too_long',
        `\`${name}\` has ${t.length} characters (UTF-16 code units: one outside the BMP, such as an emoji, counts two); at most ${limits.maxTextChars} are allowed`,
      );
  }
  return texts as string[];
}
