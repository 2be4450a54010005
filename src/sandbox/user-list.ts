// /msp/user_list.php: the USER_LIST_OUTPUT of reference §9, element for element. Each user's XML
// is cached (minus LAST_LOGIN_DATE, which depends on the caller) until the user changes.
import { managesUsers } from './accounts.js';
import { ApiFailure, exclusive, notAuthorized } from './codes.js';
import type { Reply, RequestContext } from './context.js';
import { ROLE_DISPLAY, type UserRecord, type UserRole, type UserXmlCache } from './model.js';
import { parseFlag, rejectUnknown } from './user-fields.js';
import { USER_LIST_PROLOGUE, cdata, escapeText, userListError } from './xml.js';

const PARAMS: ReadonlySet<string> = new Set(['external_id_contains', 'external_id_assigned', 'show_access_permissions']);

export function handleUserList(ctx: RequestContext): Reply {
  try {
    return { status: 200, body: run(ctx) };
  } catch (err) {
    if (err instanceof ApiFailure) return { status: 200, body: userListError(err.code, err.message) };
    throw err;
  }
}

type View = 'full' | 'partial' | 'none';

function run(ctx: RequestContext): string {
  const caller = ctx.caller;
  if (!managesUsers(caller.role)) throw notAuthorized();
  rejectUnknown(ctx.params, PARAMS);
  const contains = ctx.params.get('external_id_contains');
  if (contains !== undefined && ctx.params.has('external_id_assigned')) throw exclusive(['external_id_contains', 'external_id_assigned']);
  const assigned = ctx.params.has('external_id_assigned') ? parseFlag(ctx.params, 'external_id_assigned', false) : undefined;
  // Accepted and validated; the extra elements it adds are UNCONFIRMED, so the sandbox adds none.
  parseFlag(ctx.params, 'show_access_permissions', false);

  const company = ctx.sub.config.company;
  const restrict = ctx.sub.config.restrict_unit_manager_view;
  const parts: string[] = [USER_LIST_PROLOGUE, '<USER_LIST_OUTPUT>\n  <USER_LIST>\n'];
  for (const u of ctx.sub.users) {
    let view: View = 'full';
    let lastLogin = caller.role === 'manager';
    if (caller.role === 'unit_manager') {
      const sameUnit = u.business_unit === caller.business_unit;
      view = sameUnit ? 'full' : restrict ? 'none' : 'partial';
      lastLogin = sameUnit;
    }
    if (view === 'none') continue;
    // The external ID filters match only what the caller may see: a partial view hides the
    // external ID, so filtering on it must not reveal whose it is.
    if ((contains !== undefined || assigned !== undefined) && view !== 'full') continue;
    if (contains !== undefined && (u.external_id === '' || !u.external_id.includes(contains))) continue;
    if (assigned !== undefined && (u.external_id !== '') !== assigned) continue;
    const cache = (u.xml ??= renderUser(u, company));
    parts.push(view === 'full' ? cache.head : cache.partialHead);
    if (lastLogin) parts.push(`      <LAST_LOGIN_DATE>${u.last_login_at ?? 'N/A'}</LAST_LOGIN_DATE>\n`);
    parts.push(cache.tail);
  }
  parts.push('  </USER_LIST>\n</USER_LIST_OUTPUT>\n');
  return parts.join('');
}

const PERMISSIONS: Readonly<Record<UserRole, readonly [number, number, number, number, number]>> = {
  manager: [1, 1, 1, 1, 1],
  administrator: [1, 1, 1, 1, 1],
  unit_manager: [1, 0, 1, 0, 1],
  scanner: [1, 0, 0, 0, 0],
  reader: [0, 0, 0, 0, 0],
  contact: [0, 0, 0, 0, 0],
};

function renderUser(u: UserRecord, company: string): UserXmlCache {
  const c = (tag: string, value: string): string => `        <${tag}>${cdata(value)}</${tag}>\n`;
  const contact =
    '      <CONTACT_INFO>\n' +
    c('FIRSTNAME', u.first_name) +
    c('LASTNAME', u.last_name) +
    c('TITLE', u.title) +
    c('PHONE', u.phone) +
    c('FAX', u.fax) +
    c('EMAIL', u.email) +
    c('COMPANY', company) +
    c('ADDRESS1', u.address1) +
    c('ADDRESS2', u.address2) +
    c('CITY', u.city) +
    `        <COUNTRY>${escapeText(u.country)}</COUNTRY>\n` +
    `        <STATE>${escapeText(u.state)}</STATE>\n` +
    c('ZIP_CODE', u.zip_code) +
    c('TIME_ZONE_CODE', u.time_zone_code) +
    '      </CONTACT_INFO>\n';
  let rest = '';
  if (u.asset_groups.length > 0) {
    rest += '      <ASSIGNED_ASSET_GROUPS>\n';
    for (const g of u.asset_groups) rest += `        <ASSET_GROUP_TITLE>${cdata(g)}</ASSET_GROUP_TITLE>\n`;
    rest += '      </ASSIGNED_ASSET_GROUPS>\n';
  }
  rest += `      <USER_STATUS>${u.status}</USER_STATUS>\n      <CREATION_DATE>${u.created_at}</CREATION_DATE>\n`;
  const ids =
    `      <USER_LOGIN>${escapeText(u.login)}</USER_LOGIN>\n      <USER_ID>${u.user_id}</USER_ID>\n` +
    (u.external_id !== '' ? `      <EXTERNAL_ID>${cdata(u.external_id)}</EXTERNAL_ID>\n` : '');
  const p = PERMISSIONS[u.role];
  const tail =
    `      <USER_ROLE>${ROLE_DISPLAY[u.role]}</USER_ROLE>\n` +
    `      <BUSINESS_UNIT>${cdata(u.business_unit)}</BUSINESS_UNIT>\n` +
    `      <UNIT_MANAGER_POC>${u.unit_manager_poc ? 1 : 0}</UNIT_MANAGER_POC>\n` +
    `      <MANAGER_POC>${u.manager_poc ? 1 : 0}</MANAGER_POC>\n` +
    '      <UI_INTERFACE_STYLE>standard_blue</UI_INTERFACE_STYLE>\n' +
    '      <PERMISSIONS>\n' +
    `        <CREATE_OPTION_PROFILES>${p[0]}</CREATE_OPTION_PROFILES>\n` +
    `        <PURGE_INFO>${p[1]}</PURGE_INFO>\n` +
    `        <ADD_ASSETS>${p[2]}</ADD_ASSETS>\n` +
    `        <EDIT_REMEDIATION_POLICY>${p[3]}</EDIT_REMEDIATION_POLICY>\n` +
    `        <EDIT_AUTH_RECORDS>${p[4]}</EDIT_AUTH_RECORDS>\n` +
    '      </PERMISSIONS>\n' +
    '      <NOTIFICATIONS>\n' +
    `        <LATEST_VULN>${u.role === 'contact' ? 'none' : 'weekly'}</LATEST_VULN>\n` +
    '        <MAP>ags</MAP>\n' +
    '        <SCAN>ags</SCAN>\n' +
    '        <DAILY_TICKETS>0</DAILY_TICKETS>\n' +
    '      </NOTIFICATIONS>\n' +
    '    </USER>\n';
  return { head: '    <USER>\n' + ids + contact + rest, partialHead: '    <USER>\n' + contact + rest, tail };
}
