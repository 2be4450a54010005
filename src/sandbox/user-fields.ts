// Validation of the §4 user parameters for `action=add` and `action=edit`.
// Order of checks: unknown (1901), missing (1903), bad values (1905), bad combinations (1907).
import { combination, invalid, missing, unrecognized } from './codes.js';
import { COUNTRIES, STATES_BY_COUNTRY } from './countries.js';
import { UNASSIGNED_BU, USER_ROLES, type SandboxUser, type UserRole } from './model.js';
import type { Params } from './params.js';
import type { SubscriptionDirectory } from './users.js';

type TextKey = 'first_name' | 'last_name' | 'title' | 'phone' | 'fax' | 'email' | 'address1' | 'address2' | 'city' | 'country' | 'state' | 'zip_code' | 'external_id' | 'time_zone_code';

interface FieldSpec {
  param: TextKey | 'asset_groups';
  /** Max length (§4); undefined for list-valued fields. */
  max?: number;
  requiredOnAdd: boolean;
}

/** §4 fields shared by add and edit, in the order the reference lists them. */
const FIELDS: readonly FieldSpec[] = [
  { param: 'asset_groups', requiredOnAdd: false },
  { param: 'first_name', max: 50, requiredOnAdd: true },
  { param: 'last_name', max: 50, requiredOnAdd: true },
  { param: 'title', max: 100, requiredOnAdd: true },
  // phone: required-ness is UNCONFIRMED; the sandbox requires it (QSDK and UIUC do).
  { param: 'phone', max: 40, requiredOnAdd: true },
  { param: 'fax', max: 40, requiredOnAdd: false },
  // email max 100 is UNCONFIRMED (one integration's help page).
  { param: 'email', max: 100, requiredOnAdd: true },
  { param: 'address1', max: 80, requiredOnAdd: true },
  { param: 'address2', max: 80, requiredOnAdd: false },
  { param: 'city', max: 50, requiredOnAdd: true },
  { param: 'country', requiredOnAdd: true },
  { param: 'state', requiredOnAdd: false },
  { param: 'zip_code', max: 20, requiredOnAdd: false },
  { param: 'external_id', max: 256, requiredOnAdd: false },
  { param: 'time_zone_code', max: 50, requiredOnAdd: false },
];

const FIELD_NAMES = FIELDS.map((f) => f.param);
export const ADD_PARAMS: ReadonlySet<string> = new Set(['action', 'user_role', 'business_unit', 'send_email', ...FIELD_NAMES]);
export const EDIT_PARAMS: ReadonlySet<string> = new Set(['action', 'login', ...FIELD_NAMES]);
export const STATUS_PARAMS: ReadonlySet<string> = new Set(['action', 'login']);
const ADD_REQUIRED = ['user_role', 'business_unit', ...FIELDS.filter((f) => f.requiredOnAdd).map((f) => f.param)];
const REQUIRED_ON_ADD: ReadonlySet<string> = new Set(ADD_REQUIRED);
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** 1901 when any parameter is outside `allowed` (names in request order). */
export function rejectUnknown(params: Params, allowed: ReadonlySet<string>): void {
  const unknown = [...params.keys()].filter((k) => !allowed.has(k));
  if (unknown.length > 0) throw unrecognized(unknown);
}

/** A `{0|1}` flag; 1905 otherwise. */
export function parseFlag(params: Params, name: string, fallback: boolean): boolean {
  const v = params.get(name);
  if (v === undefined) return fallback;
  if (v === '0' || v === '1') return v === '1';
  throw invalid(name, v);
}

function checkValue(spec: FieldSpec, value: string, sub: SubscriptionDirectory): void {
  // Characters, not UTF-16 units: an emoji is one character of the reference's limits.
  if (spec.max !== undefined && value.length > spec.max && [...value].length > spec.max) throw invalid(spec.param, value, `max ${spec.max} characters`);
  if (spec.param === 'email' && value !== '' && !EMAIL.test(value)) throw invalid('email', value);
  if (spec.param === 'country' && value !== '' && !COUNTRIES.has(value)) throw invalid('country', value);
  if (spec.param === 'asset_groups') {
    for (const title of splitList(value)) if (!sub.assetGroups.has(title)) throw invalid('asset_groups', title);
  }
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Resolves `state` for a (possibly new) country: required and checked for the four listed countries. */
function resolveState(country: string, given: string | undefined, previous: string): string {
  const states = STATES_BY_COUNTRY.get(country);
  if (!states) return ''; // ignored for countries without a list (sandbox choice)
  const state = given ?? (states.has(previous) ? previous : '');
  if (state === '') throw missing(['state']);
  if (!states.has(state)) throw invalid('state', state);
  return state;
}

/** Reference §4: asset groups only for Scanner, Reader and Contact (an Administrator sees all). */
const ROLES_WITH_ASSET_GROUPS: ReadonlySet<UserRole> = new Set<UserRole>(['scanner', 'reader', 'contact']);

function assetGroupsCombination(role: UserRole, groups: readonly string[], raw: string): void {
  if (!ROLES_WITH_ASSET_GROUPS.has(role) && groups.length > 0) {
    throw combination([
      ['user_role', role],
      ['asset_groups', raw],
    ]);
  }
}

/** Reference §11: a user gets groups of its own business unit (any group when in Unassigned). */
function assetGroupsOfUnit(groups: readonly string[], businessUnit: string, sub: SubscriptionDirectory): void {
  for (const title of groups) {
    if (!sub.mayAssign(businessUnit, title)) throw invalid('asset_groups', title, `not a group of business unit ${businessUnit}`);
  }
}

export interface AddRequest {
  role: UserRole;
  business_unit: string;
  send_email: boolean;
  /** True when the request named a business unit that does not exist yet (unit_manager only). */
  newBusinessUnit: boolean;
  fields: Omit<SandboxUser, 'subscription' | 'login' | 'user_id' | 'status' | 'role' | 'business_unit' | 'created_at' | 'last_login_at' | 'password' | 'unit_manager_poc' | 'manager_poc' | 'api_account'>;
}

/** Validates an `action=add` request (permissions are checked by the caller). */
export function parseAddRequest(params: Params, sub: SubscriptionDirectory): AddRequest {
  rejectUnknown(params, ADD_PARAMS);
  const country = params.get('country') ?? '';
  // Blank (whitespace only) counts as missing.
  const absent = ADD_REQUIRED.filter((name) => (params.get(name) ?? '').trim() === '');
  const states = STATES_BY_COUNTRY.get(country);
  if (states && (params.get('state') ?? '').trim() === '') absent.push('state');
  if (absent.length > 0) throw missing(absent);

  const roleValue = params.get('user_role') as string;
  if (!(USER_ROLES as readonly string[]).includes(roleValue)) throw invalid('user_role', roleValue);
  const role = roleValue as UserRole;
  const sendEmail = parseFlag(params, 'send_email', true);
  for (const spec of FIELDS) {
    const value = params.get(spec.param);
    if (value !== undefined && !(spec.param === 'state' && !states)) checkValue(spec, value, sub);
  }
  const state = resolveState(country, params.get('state'), '');

  if (role === 'contact' && params.has('send_email')) {
    throw combination([
      ['user_role', 'contact'],
      ['send_email', params.get('send_email') as string],
    ]);
  }
  const groupsRaw = params.get('asset_groups') ?? '';
  const groups = splitList(groupsRaw);
  assetGroupsCombination(role, groups, groupsRaw);
  const businessUnit = params.get('business_unit') as string;
  assetGroupsOfUnit(groups, businessUnit, sub);
  if (role === 'manager' && businessUnit !== UNASSIGNED_BU) {
    throw combination([
      ['user_role', 'manager'],
      ['business_unit', businessUnit],
    ]);
  }
  if (role === 'unit_manager' && businessUnit === UNASSIGNED_BU) throw invalid('business_unit', businessUnit, 'a unit manager needs a custom business unit');
  const known = sub.businessUnits.has(businessUnit);
  if (!known && role !== 'unit_manager') throw invalid('business_unit', businessUnit, 'unknown business unit');

  const text = (k: TextKey): string => params.get(k) ?? '';
  return {
    role,
    business_unit: businessUnit,
    send_email: sendEmail,
    newBusinessUnit: !known,
    fields: {
      first_name: text('first_name'),
      last_name: text('last_name'),
      title: text('title'),
      phone: text('phone'),
      fax: text('fax'),
      email: text('email'),
      address1: text('address1'),
      address2: text('address2'),
      city: text('city'),
      country,
      state,
      zip_code: text('zip_code'),
      external_id: text('external_id'),
      time_zone_code: params.get('time_zone_code') || 'Auto',
      asset_groups: groups,
    },
  };
}

/** The changes an `action=edit` request makes to `target`. Empty values clear optional fields. */
export function parseEditPatch(params: Params, target: SandboxUser, sub: SubscriptionDirectory): Partial<SandboxUser> {
  const patch: Partial<SandboxUser> & Record<string, unknown> = {};
  for (const spec of FIELDS) {
    const value = params.get(spec.param);
    if (value === undefined || spec.param === 'state') continue;
    // Clearing a field that add requires would leave the user invalid (sandbox choice: refuse).
    // Blank as add sees it: spaces alone are no value either.
    if (value.trim() === '' && REQUIRED_ON_ADD.has(spec.param)) throw invalid(spec.param, value, 'required field cannot be cleared');
    checkValue(spec, value, sub);
    if (spec.param === 'asset_groups') {
      const groups = splitList(value);
      assetGroupsCombination(target.role, groups, value);
      assetGroupsOfUnit(groups, target.business_unit, sub);
      patch.asset_groups = groups;
    } else if (spec.param === 'time_zone_code') {
      patch.time_zone_code = value === '' ? 'Auto' : value;
    } else {
      patch[spec.param] = value;
    }
  }
  const country = patch.country ?? target.country;
  const givenState = params.get('state');
  if (givenState !== undefined || patch.country !== undefined) {
    const state = resolveState(country, givenState === '' && !STATES_BY_COUNTRY.has(country) ? undefined : givenState, target.state);
    if (state !== target.state) patch.state = state;
  }
  return patch;
}
