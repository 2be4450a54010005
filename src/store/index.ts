// Store back ends, chosen by location: a file path opens SQLite; a postgres:// URL will open
// PostgreSQL once that back end exists. Callers depend on the Store interface only.
import { isAbsolute, join, resolve } from 'node:path';
import { SkeinError } from '../errors.js';
import type { ObjectDef } from '../workflow/objects.js';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite/store.js';
import type { Store } from './types.js';

export type * from './types.js';
export { TEXT_CAP_BYTES, TRUNCATION_MARKER } from './types.js';

/** The state file used when neither --state nor SKEIN_STATE is given, relative to the cwd. */
export const DEFAULT_STATE_FILE = join('.skein', 'state.db');

const URL_RE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** `SKEIN_STATE` (a path resolved against cwd, or a URL) or `<cwd>/.skein/state.db`. */
export function defaultStatePath(env: NodeJS.ProcessEnv, cwd: string): string {
  const fromEnv = env.SKEIN_STATE;
  if (fromEnv !== undefined && fromEnv !== '') return resolveStateLocation(fromEnv, cwd);
  return join(cwd, DEFAULT_STATE_FILE);
}

/** Resolves a --state value: URLs are kept, paths are made absolute against cwd. */
export function resolveStateLocation(location: string, cwd: string): string {
  if (URL_RE.test(location) || location === ':memory:') return location;
  return isAbsolute(location) ? location : resolve(cwd, location);
}

/** Opens the store at `location` (a file path, or later a postgres:// URL). */
export async function openStore(location: string, objects: Map<string, ObjectDef>, opts: SqliteStoreOptions = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(location)) {
    throw new SkeinError('store-unsupported', 'PostgreSQL state stores are not supported yet; use a file path for --state');
  }
  if (URL_RE.test(location)) {
    throw new SkeinError('store-unsupported', `unsupported state location "${location.replace(/\/\/[^@/]*@/, '//***@')}"; use a file path`);
  }
  return openSqliteStore(location, objects, opts);
}
