// Basic authentication for /msp/ scripts (reference §1.2, §12): configured API accounts, plus any
// sandbox user with a password (so users created through the API can call it too).
import type { ApiAccount } from './accounts.js';
import { BAD_LOGIN_TEXT, CODE } from './codes.js';
import type { UserRecord } from './model.js';
import type { UserDirectory } from './users.js';

export type AuthResult =
  | { ok: true; user: UserRecord }
  | { ok: false; httpStatus: number; code: number; text: string; username: string };

/** Splits a `Basic` Authorization header; null when absent or malformed. */
export function parseBasic(header: string | undefined): { username: string; password: string } | null {
  if (header === undefined || header.length < 7 || header.slice(0, 6).toLowerCase() !== 'basic ') return null;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Configured API account passwords are pinned: they keep working even after a password_change
 * reset the account (the new password works too), so a `user_logins=all` reset cannot lock you
 * out of the sandbox. A session cookie alone is never enough (V1 user scripts reject sessions).
 */
export function authenticate(
  header: string | undefined,
  accounts: ReadonlyMap<string, ApiAccount>,
  directory: UserDirectory,
  script: string,
): AuthResult {
  const creds = parseBasic(header);
  const denied = (username: string): AuthResult => ({ ok: false, httpStatus: 401, code: CODE.BAD_LOGIN, text: BAD_LOGIN_TEXT, username });
  if (!creds) return denied('');
  const user = directory.byLogin(creds.username);
  if (!user) return denied(creds.username);
  const account = accounts.get(creds.username);
  const passwordOk = (account !== undefined && account.password === creds.password) || (user.password !== null && user.password === creds.password);
  if (!passwordOk || user.role === 'contact') return denied(creds.username);
  if (user.status === 'Inactive') {
    return { ok: false, httpStatus: 200, code: CODE.ACCOUNT_INACTIVE, text: 'User account is inactive', username: user.login };
  }
  if (user.status === 'Pending Activation' && script !== 'acceptEULA.php') {
    return {
      ok: false,
      httpStatus: 200,
      code: CODE.REGISTRATION_PENDING,
      text: 'Registration must be completed before API requests will be served for this account',
      username: user.login,
    };
  }
  return { ok: true, user };
}
