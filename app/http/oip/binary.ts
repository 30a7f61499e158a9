// Triton's binary tensor data extension, the byte layer: a body is a JSON object followed by
// the tensors' raw bytes, the JSON's length given by the Inference-Header-Content-Length
// header. Elements are little-endian; a BYTES element is a 4-byte unsigned length followed by
// that many bytes. Each function here checks every length against the bytes it has, so a
// lying header or a truncated tail is a 400, never an out-of-range read or a huge allocation.
import { ApiError } from '../errors.js';

export const HEADER_LENGTH = 'Inference-Header-Content-Length';
export const BINARY_EXTENSION = 'binary_tensor_data';

export interface SplitBody {
  readonly json: Buffer;
  readonly tail: Buffer;
}

/** Splits a request body into its JSON part and its binary tail. */
export function splitBody(body: Buffer, headerLength: string | string[] | undefined): SplitBody {
  if (headerLength === undefined) return { json: body, tail: Buffer.alloc(0) };
  const value = Array.isArray(headerLength) ? headerLength.join(',') : headerLength.trim();
  if (!/^\d{1,15}$/.test(value)) {
    throw new ApiError(
      400,
      'invalid_request',
      `${HEADER_LENGTH} must be a non-negative integer, got ${JSON.stringify(value)}`,
    );
  }
  const length = Number(value);
  if (length > body.length) {
    throw new ApiError(
      400,
      'invalid_request',
      `${HEADER_LENGTH} is ${length} but the body holds only ${body.length} bytes`,
    );
  }
  return { json: body.subarray(0, length), tail: body.subarray(length) };
}

// ignoreBOM: a leading U+FEFF is part of the element's text (fastText reads it as such);
// by default each decode() would strip it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes BYTES elements (4-byte LE length + bytes each) that must be UTF-8 text. */
export function decodeBytesElements(bytes: Buffer, field: string): string[] {
  const texts: string[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 4)
      throw new ApiError(400, 'invalid_request', `${field}: element ${texts.length} is cut short in its 4-byte length`);
    const length = bytes.readUInt32LE(at);
    at += 4;
    if (length > bytes.length - at) {
      throw new ApiError(
        400,
        'invalid_request',
        `${field}: element ${texts.length} declares ${length} bytes but only ${bytes.length - at} remain`,
      );
    }
    try {
      texts.push(utf8.decode(bytes.subarray(at, at + length)));
    } catch {
      throw new ApiError(400, 'invalid_request', `${field}: element ${texts.length} is not valid UTF-8 text`);
    }
    at += length;
  }
  return texts;
}

export function encodeBytesElements(values: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const value of values) {
    const bytes = Buffer.from(value, 'utf8');
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32LE(bytes.length, 0);
    parts.push(length, bytes);
  }
  return Buffer.concat(parts);
}

export function encodeFp32(values: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i] as number, i * 4);
  return out;
}

/** Joins a JSON header and binary tensors into one body; returns the header's length too. */
export function joinBody(header: unknown, tensors: readonly Buffer[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  return { body: Buffer.concat([json, ...tensors]), headerLength: json.length };
}
