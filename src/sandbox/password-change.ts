// /msp/password_change.php: batch password reset with generated passwords (reference §8).
import { managesUsers, mayTarget } from './accounts.js';
import { ApiFailure, CODE, missing, notAuthorized } from './codes.js';
import type { Reply, RequestContext } from './context.js';
import type { UserRecord } from './model.js';
import { generatePassword } from './random.js';
import { parseFlag, rejectUnknown } from './user-fields.js';
import { touch } from './users.js';
import { passwordChangeOutput, type PasswordChangeEntry } from './xml.js';

// `send_email` (the older QG-PWD name) is deliberately not accepted: presets must send `email`.
const PARAMS: ReadonlySet<string> = new Set(['user_logins', 'email']);
const SUCCESS_TEXT = 'The operation was successfully completed';

export function handlePasswordChange(ctx: RequestContext): Reply {
  try {
    return { status: 200, body: run(ctx) };
  } catch (err) {
    if (err instanceof ApiFailure) {
      return { status: 200, body: passwordChangeOutput(ctx.stamp, { status: 'FAILED', code: err.code, message: err.message }) };
    }
    throw err;
  }
}

function run(ctx: RequestContext): string {
  if (!managesUsers(ctx.caller.role)) throw notAuthorized();
  rejectUnknown(ctx.params, PARAMS);
  const logins = ctx.params.get('user_logins') ?? '';
  if (logins.trim() === '') throw missing(['user_logins']);
  const sendEmail = parseFlag(ctx.params, 'email', true);

  const { targets, failures } = logins.trim() === 'all' ? everyone(ctx) : listed(ctx, logins);
  const changes: PasswordChangeEntry[] = [];
  for (const rec of targets) {
    rec.password = generatePassword(ctx.rng);
    if (!sendEmail && rec.status === 'Pending Activation') {
      rec.status = 'Active';
      touch(rec);
    }
    changes.push(sendEmail ? { login: rec.login } : { login: rec.login, password: rec.password });
  }
  if (changes.length > 0) ctx.changed();

  if (failures.length === 0) return passwordChangeOutput(ctx.stamp, { status: 'SUCCESS', message: SUCCESS_TEXT, changes });
  if (changes.length === 0) {
    // Nothing could be changed: a plain failure, with the per-user reasons (shape UNCONFIRMED).
    const bad = failures.map((f) => f.login).join(',');
    return passwordChangeOutput(ctx.stamp, {
      status: 'FAILED',
      code: CODE.INVALID,
      message: `parameter user_logins has invalid value: ${bad}`,
      failures,
    });
  }
  return passwordChangeOutput(ctx.stamp, {
    status: 'WARNING',
    message: `Passwords could not be changed for ${failures.length} of ${failures.length + changes.length} account(s)`,
    changes,
    failures,
  });
}

interface Selection {
  targets: UserRecord[];
  failures: PasswordChangeEntry[];
}

/** `user_logins=all`: every user the caller may reset, except itself and Contacts. */
function everyone(ctx: RequestContext): Selection {
  const targets = ctx.sub.users.filter(
    (u) => u.login !== ctx.caller.login && u.role !== 'contact' && mayTarget(ctx.caller, u, 'password_change'),
  );
  return { targets, failures: [] };
}

function listed(ctx: RequestContext, logins: string): Selection {
  const targets: UserRecord[] = [];
  const failures: PasswordChangeEntry[] = [];
  const seen = new Set<string>();
  for (const raw of logins.split(',')) {
    const login = raw.trim();
    if (login === '' || seen.has(login)) continue;
    seen.add(login);
    const rec = ctx.sub.byLogin.get(login);
    if (!rec) failures.push({ login, reason: 'User not found' });
    else if (rec.login === ctx.caller.login) failures.push({ login, reason: 'The password of the calling account cannot be changed with this API' });
    else if (rec.role === 'contact') failures.push({ login, reason: 'Contacts have no login' });
    else if (!mayTarget(ctx.caller, rec, 'password_change')) failures.push({ login, reason: 'Not permitted for the calling account' });
    else targets.push(rec);
  }
  return { targets, failures };
}
