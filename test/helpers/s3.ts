// A real S3 server for tests: s3rver on 127.0.0.1 (random port), its data in a fresh temp
// dir, behind a node:http server of ours that records every request (method, path, Range)
// so a test can prove what reached S3 (a GET, a Range, or nothing at all).
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

/** s3rver's fixed credentials: it checks signatures against these. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface RecordedRequest {
  readonly method: string;
  /** Path and query, e.g. /bucket/key. */
  readonly url: string;
  readonly range: string | undefined;
}

export interface S3Fixture {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  /** Path-style, dummy credentials, WHEN_REQUIRED checksums (docs/model.md, "S3 checksums"). */
  readonly client: S3Client;
  /** Every request received so far, oldest first. */
  readonly requests: RecordedRequest[];
  /** Requests with this method whose path is /bucket/key (after an optional query). */
  count(method: string, bucket?: string, key?: string): number;
  /** Creates the bucket if needed, then stores a buffer or a local file's bytes. */
  put(bucket: string, key: string, body: Buffer | string): Promise<void>;
  close(): Promise<void>;
}

export async function startS3(): Promise<S3Fixture> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 's3rver-'));
  const s3rver = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const handle = s3rver.callback();
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', range: req.headers.range });
    handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const buckets = new Set<string>();

  return {
    endpoint,
    port,
    client,
    requests,
    count(method, bucket, key) {
      const wanted = bucket === undefined ? undefined : `/${bucket}/${key ?? ''}`;
      return requests.filter((r) => r.method === method && (wanted === undefined || r.url.split('?')[0] === wanted))
        .length;
    },
    async put(bucket, key, body) {
      if (!buckets.has(bucket)) {
        await client.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: unknown) => {
          if (!(err instanceof Error && /BucketAlready(Exists|OwnedByYou)/.test(err.name))) throw err;
        });
        buckets.add(bucket);
      }
      if (typeof body === 'string') {
        const { size } = await stat(body);
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(body), ContentLength: size }),
        );
      } else {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      }
    },
    async close() {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(directory, { recursive: true, force: true });
    },
  };
}
