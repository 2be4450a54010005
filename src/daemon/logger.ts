// Structured logs (pino): JSON lines (readable lines on a terminal), one logger per daemon with child loggers carrying workflow,
// run, record and step ids. Secrets are redacted by configuration, not by convention.
import { Writable } from 'node:stream';
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

/**
 * On a terminal, JSON lines are turned into `HH:MM:SS LEVEL message key=value ...` so a person can
 * read them; redaction has already happened in pino, before formatting.
 */
function readable(out: NodeJS.WritableStream): NodeJS.WritableStream {
  const names: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
  return new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) {
        if (!line) continue;
        try {
          const { level, time, msg, service: _s, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const ctx = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
          out.write(`${String(time).slice(11, 19)} ${names[level as number] ?? level} ${msg}${ctx ? `  ${ctx}` : ''}\n`);
        } catch {
          out.write(line + '\n');
        }
      }
      cb();
    },
  });
}

export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream & { isTTY?: boolean }; pretty?: boolean } = {}): Logger {
  const dest = opts.destination ?? process.stdout;
  const pretty = opts.pretty ?? (dest as { isTTY?: boolean }).isTTY === true;
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'skein' },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (pretty ? readable(dest) : dest) as pino.DestinationStream,
  );
}
