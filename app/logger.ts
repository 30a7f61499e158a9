// One structured JSON logger for the process (pino): one line an event, no request bodies.
//
// The destination is a small hand-written one rather than pino's default (sonic-boom):
// measured here, when stdout is a closed pipe, sonic-boom's flushSync retries EPIPE forever
// at exit (a 100 ms sleep per try), so a process told to stop never exits. This one never
// blocks and never throws: a line that cannot be written is dropped and counted.
import { writeSync } from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

export class StdoutDestination implements DestinationStream {
  /** Lines lost because stdout was full or gone. */
  dropped = 0;
  private closed = false;

  constructor(private readonly fd = 1) {}

  write(line: string): void {
    if (this.closed) {
      this.dropped += 1;
      return;
    }
    let buf = Buffer.from(line, 'utf8');
    try {
      while (buf.length > 0) {
        const n = writeSync(this.fd, buf);
        buf = buf.subarray(n);
      }
    } catch (error) {
      this.dropped += 1;
      const code = (error as NodeJS.ErrnoException).code;
      // A reader that went away does not come back; a full pipe (EAGAIN) may drain later.
      if (code === 'EPIPE' || code === 'EBADF') this.closed = true;
    }
  }
}

export function createLogger(level: LogLevel, destination: DestinationStream = new StdoutDestination()): Logger {
  return pino(
    {
      level,
      base: { service: 'fasttext-edge', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Credentials can reach a log line through an SDK error's request metadata.
      redact: {
        paths: ['*.accessKeyId', '*.secretAccessKey', '*.sessionToken', '*.authorization', '*.Authorization'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
