// Store back ends, chosen by location: a file path opens SQLite; a postgres:// (or
// postgresql://) URL opens PostgreSQL. Callers depend on the Store interface only.
import { isAbsolute, join, resolve } from 'node:path';
import { SkeinError } from '../errors.js';
import type { ObjectDef } from '../workflow/objects.js';
import type { PgStoreOptions } from './postgres/store.js';
import { redactUrl } from '../url-redact.js';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite/store.js';
import type { Store } from './types.js';

export type * from './types.js';
export { TEXT_CAP_BYTES, TRUNCATION_MARKER } from './types.js';
export { redactUrl } from '../url-redact.js';

/** Options for either back end; each ignores the other's. */
export type StoreOptions = SqliteStoreOptions & PgStoreOptions;

const PG_URL_RE = /^postgres(ql)?:\/\//i;

/** True for a location that opens the PostgreSQL back end. */
export function isPostgresUrl(location: string): boolean {
  return PG_URL_RE.test(location);
}

/** The state file used when neither --state nor SKEIN_STATE is given, relative to the cwd. */
export const DEFAULT_STATE_FILE = join('.skein', 'state.db');

const URL_RE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** `SKEIN_STATE` (a path resolved against cwd, or a URL) or `<cwd>/.skein/state.db`. */
export function defaultStatePath(env: NodeJS.ProcessEnv, cwd: string): string {
  const fromEnv = env.SKEIN_STATE;
  if (fromEnv !== undefined && fromEnv !== '') return resolveStateLocation(fromEnv, cwd);
  return join(cwd, DEFAULT_STATE_FILE);
}

/**
 * The store used when --state is not given: `SKEIN_DATABASE_URL` (a postgres:// URL), then
 * `SKEIN_STATE` (a path resolved against cwd, or a URL), then `<cwd>/.skein/state.db`.
 */
export function defaultStateLocation(env: NodeJS.ProcessEnv, cwd: string): string {
  const url = env.SKEIN_DATABASE_URL;
  if (url !== undefined && url !== '') return url;
  return defaultStatePath(env, cwd);
}

/** Resolves a --state value: URLs are kept, paths are made absolute against cwd. */
export function resolveStateLocation(location: string, cwd: string): string {
  if (URL_RE.test(location) || location === ':memory:') return location;
  return isAbsolute(location) ? location : resolve(cwd, location);
}

/** Opens the store at `location`: a file path (SQLite) or a postgres:// URL (PostgreSQL). */
export async function openStore(location: string, objects: Map<string, ObjectDef>, opts: StoreOptions = {}): Promise<Store> {
  if (isPostgresUrl(location)) {
    // Loaded only here: the driver costs ~40 ms of every SQLite run's start-up otherwise.
    const { openPgStore } = await import('./postgres/store.js');
    return openPgStore(location, objects, opts);
  }
  if (URL_RE.test(location)) {
    throw new SkeinError('store-unsupported', `unsupported state location "${redactUrl(location).replace(/\/\/[^@/:]*@/, '//***@')}"; use a file path or a postgres:// URL`);
  }
  return openSqliteStore(location, objects, opts);
}
