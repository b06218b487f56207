import { pino, type Logger } from 'pino';

export type { Logger };

// Credentials and the admit token never reach a log line, whatever object a caller passes.
const redact = {
  paths: [
    'token',
    '*.token',
    'admission.token',
    'config.admission.token',
    'authorization',
    '*.authorization',
    'headers.authorization',
    'req.headers.authorization',
    'accessKeyId',
    'secretAccessKey',
    'sessionToken',
    '*.secretAccessKey',
    '*.sessionToken',
  ],
  censor: '[redacted]',
};

export function createLogger(level = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { name: 'glue-eni-exporter' }, redact }, destination as pino.DestinationStream | undefined);
}

/** A logger that drops everything: for tests and for library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
