// Structured logs (pino): JSON lines, one logger per daemon with child loggers carrying workflow,
// run, record and step ids. Secrets are redacted by configuration, not by convention.
import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths pino replaces with [REDACTED] wherever they occur in a log line. */
export const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  '*.authorization',
  '*.headers.authorization',
  'password',
  '*.password',
  '*.*.password',
  'credential',
  '*.credential',
  'QUALYS_PASSWORD',
  'env.*',
];

export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'skein' },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (opts.destination ?? process.stdout) as pino.DestinationStream,
  );
}
