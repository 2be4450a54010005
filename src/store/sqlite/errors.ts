// SQLite error codes turned into store errors with stable codes, naming the database file.
import { SkeinError } from '../../errors.js';

/**
 * SQLite failures a person can act on, as store errors naming the file: another process held the
 * write lock past the busy timeout (worth retrying), or the file cannot be written, is full, or
 * is not a sound database. Anything else is passed on unchanged.
 */
export function storeError(err: unknown, location: string, waitedMs: number): unknown {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return err;
  const fail = (skeinCode: string, message: string, retryable = false) => new SkeinError(skeinCode, message, { cause: err, retryable });
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) return fail('store-busy', `state database ${location} is locked by another process (waited ${waitedMs} ms)`, true);
  if (code.startsWith('SQLITE_READONLY')) {
    return fail('store-read-only', `state database ${location} cannot be written (${code}); check the permissions of the file and its folder, or use another --state`);
  }
  if (code === 'SQLITE_FULL') return fail('store-full', `state database ${location}: the disk is full`);
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN')) return fail('store-io', `state database ${location}: input/output error (${code})`);
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') return fail('store-corrupt', `state database ${location} is not a sound SQLite database (${code})`);
  return err;
}
