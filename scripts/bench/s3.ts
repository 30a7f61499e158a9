// A real S3 server for the cold-start-from-S3 phase: s3rver on 127.0.0.1 (random port, data
// in a temp dir), holding a model (streamed up), uploaded with checksums only when required (the
// SDK's default would store aws-chunked framing inside the object).
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

export interface BenchS3 {
  readonly endpoint: string;
  /** Environment for the service to load `s3://bench/<key>` from this server. */
  readonly env: Readonly<Record<string, string>>;
  /** GETs the object into `file` (no hashing): the bare transfer the service has to do; ms. */
  download(file: string): Promise<number>;
  close(): Promise<void>;
}

export async function startS3(
  modelFile: string,
  md5: string,
  extraEnv: Readonly<Record<string, string>> = {},
): Promise<BenchS3> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'bench-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const key = path.basename(modelFile);
  try {
    await client.send(new CreateBucketCommand({ Bucket: 'bench' }));
    // Streamed with its length: a GiB-class model is never held in this process's memory.
    const { size } = await stat(modelFile);
    await client.send(
      new PutObjectCommand({ Bucket: 'bench', Key: key, Body: createReadStream(modelFile), ContentLength: size }),
    );
  } catch (error) {
    client.destroy();
    await server.close();
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  return {
    endpoint,
    env: {
      MODEL_URI: `s3://bench/${key}`,
      MODEL_MD5: md5,
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
      ...extraEnv,
    },
    async download(file) {
      const started = performance.now();
      const answer = await client.send(new GetObjectCommand({ Bucket: 'bench', Key: key }));
      await pipeline(answer.Body as Readable, createWriteStream(file));
      return performance.now() - started;
    },
    async close() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
