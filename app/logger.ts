// One structured JSON logger for the process (pino): one line an event, no request bodies.
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

export function createLogger(level: LogLevel): Logger {
  return pino({
    level,
    base: { service: 'fasttext-edge', pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Credentials can reach a log line through an SDK error's request metadata.
    redact: { paths: ['*.accessKeyId', '*.secretAccessKey', '*.sessionToken', '*.authorization', '*.Authorization'], censor: '[redacted]' },
  });
}
