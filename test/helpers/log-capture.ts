// A real pino logger (the exporter's own createLogger) whose output is kept for assertions: parsed JSON lines,
// and the raw text as written (for checks on the bytes, such as redaction).
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log.js';

export function captureLogger(level = 'info'): { logger: Logger; lines: Record<string, unknown>[]; text: () => string } {
  const lines: Record<string, unknown>[] = [];
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      const s = chunk.toString();
      text += s;
      for (const line of s.split('\n')) if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger(level, sink), lines, text: () => text };
}
