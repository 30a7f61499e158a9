// A real S3 server for the cold-start-from-S3 phase: s3rver on 127.0.0.1 (random port, data
// in a temp dir), holding the bundled model, uploaded with checksums only when required (the
// SDK's default would store aws-chunked framing inside the object; see DESIGN.md hazards).
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

export interface BenchS3 {
  readonly endpoint: string;
  /** Environment for the service to load `s3://bench/<key>` from this server. */
  readonly env: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

export async function startS3(modelFile: string, md5: string): Promise<BenchS3> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'bench-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const address = (await server.run());
  const endpoint = `http://127.0.0.1:${address.port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  const key = path.basename(modelFile);
  try {
    await client.send(new CreateBucketCommand({ Bucket: 'bench' }));
    await client.send(new PutObjectCommand({ Bucket: 'bench', Key: key, Body: await readFile(modelFile) }));
  } finally {
    client.destroy();
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
    },
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
