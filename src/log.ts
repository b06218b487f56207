import { pino, type Logger } from 'pino';

export type { Logger };

// Credentials and the admit token never reach a log line, whatever object a caller passes.
// Header names keep the case their caller gave them; environment variables keep their own names.
const redact = {
  paths: [
    'token',
    '*.token',
    '*.admission.token',
    'config.admission.token',
    'authorization',
    'Authorization',
    '*.authorization',
    '*.Authorization',
    '*.headers.authorization',
    '*.headers.Authorization',
    'accessKeyId',
    'secretAccessKey',
    'sessionToken',
    '*.secretAccessKey',
    '*.sessionToken',
    ...['GLUE_ENI_ADMIT_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'].flatMap((k) => [k, `*.${k}`]),
  ],
  censor: '[redacted]',
};

export function createLogger(level = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { name: 'glue-eni-exporter' }, redact }, destination as pino.DestinationStream | undefined);
}

/** A logger that drops everything: for tests and for library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
