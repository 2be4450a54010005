// /msp/user.php: action=add | edit | activate | deactivate (reference §3, §5, §6, §7).
import { addRefusal, managesUsers, mayTarget, type UserOperation } from './accounts.js';
import { ApiFailure, invalid, missing, notAuthorized } from './codes.js';
import type { Reply, RequestContext } from './context.js';
import { ROLE_DISPLAY, type UserRecord } from './model.js';
import { EDIT_PARAMS, STATUS_PARAMS, parseAddRequest, parseEditPatch, rejectUnknown } from './user-fields.js';
import { touch } from './users.js';
import { userOutputFailure, userOutputSuccess } from './xml.js';

export function handleUserPhp(ctx: RequestContext): Reply {
  try {
    return { status: 200, body: run(ctx) };
  } catch (err) {
    if (err instanceof ApiFailure) return { status: 200, body: userOutputFailure(ctx.stamp, err.code, err.message) };
    throw err;
  }
}

function run(ctx: RequestContext): string {
  if (!managesUsers(ctx.caller.role)) throw notAuthorized();
  const action = ctx.params.get('action');
  if (action === undefined || action === '') throw missing(['action']);
  switch (action) {
    case 'add':
      return add(ctx);
    case 'edit':
      return edit(ctx);
    case 'activate':
      return setStatus(ctx, 'activate');
    case 'deactivate':
      return setStatus(ctx, 'deactivate');
    default:
      // V1 has no delete (§10); every other action is a bad value.
      throw invalid('action', action);
  }
}

function add(ctx: RequestContext): string {
  const req = parseAddRequest(ctx.params, ctx.sub);
  const refusal = addRefusal(ctx.caller, req.role, req.business_unit);
  if (refusal) {
    const value = refusal === 'user_role' ? req.role : req.business_unit;
    throw invalid(refusal, value, `not permitted for role ${ROLE_DISPLAY[ctx.caller.role]}`);
  }
  // An unknown business unit reaches here only with user_role=unit_manager: it is created and the
  // new user becomes its primary contact (UNCONFIRMED; reference §11 suggestion).
  const rec = ctx.directory.create(
    ctx.sub,
    {
      ...req.fields,
      // Reference §4 (CORROBORATED): an omitted zip code defaults to the API user's own.
      zip_code: ctx.params.has('zip_code') ? req.fields.zip_code : ctx.caller.zip_code,
      role: req.role,
      business_unit: req.business_unit,
      status: 'Pending Activation',
      created_at: ctx.stamp.at,
    },
    ctx.rng,
    ctx.nowMs,
  );
  ctx.changed();
  const message = `${rec.login} user has been successfully created.`;
  if (!req.send_email && rec.password !== null) {
    return userOutputSuccess(ctx.stamp, message, { login: rec.login, password: rec.password });
  }
  return userOutputSuccess(ctx.stamp, message);
}

/** The target of edit/activate/deactivate: must exist in the caller's subscription and be in reach. */
function target(ctx: RequestContext, op: UserOperation): UserRecord {
  const login = ctx.params.get('login');
  if (login === undefined || login === '') throw missing(['login']);
  const rec = ctx.sub.byLogin.get(login);
  if (!rec) throw invalid('login', login);
  if (!mayTarget(ctx.caller, rec, op)) throw invalid('login', login, `not permitted for role ${ROLE_DISPLAY[ctx.caller.role]}`);
  return rec;
}

function edit(ctx: RequestContext): string {
  rejectUnknown(ctx.params, EDIT_PARAMS);
  const rec = target(ctx, 'edit');
  const patch = parseEditPatch(ctx.params, rec, ctx.sub);
  Object.assign(rec, patch);
  touch(rec);
  ctx.changed();
  return userOutputSuccess(ctx.stamp, `${rec.login} user has been successfully updated.`);
}

function setStatus(ctx: RequestContext, op: 'activate' | 'deactivate'): string {
  rejectUnknown(ctx.params, STATUS_PARAMS);
  const rec = target(ctx, op);
  const from = op === 'activate' ? 'Inactive' : 'Active';
  if (rec.status !== from) {
    throw invalid('login', rec.login, `user status is ${rec.status}; only ${from} users can be ${op}d`);
  }
  if (op === 'deactivate' && rec.login === ctx.caller.login) throw invalid('login', rec.login, 'the calling account cannot deactivate itself');
  rec.status = op === 'activate' ? 'Active' : 'Inactive';
  touch(rec);
  ctx.changed();
  return userOutputSuccess(ctx.stamp, `${rec.login} user has been successfully ${op}d.`);
}
