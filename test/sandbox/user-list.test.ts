import { describe, expect, it } from 'vitest';
import { ADMIN, UNIT, addParams, addUser, call, cdataParser, startSandbox } from './helpers.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function listUsers(xml: any): any[] {
  const u = xml.USER_LIST_OUTPUT.USER_LIST?.USER;
  return u === undefined ? [] : Array.isArray(u) ? u : [u];
}

const CONTACT_ORDER = ['FIRSTNAME', 'LASTNAME', 'TITLE', 'PHONE', 'FAX', 'EMAIL', 'COMPANY', 'ADDRESS1', 'ADDRESS2', 'CITY', 'COUNTRY', 'STATE', 'ZIP_CODE', 'TIME_ZONE_CODE'];
const TAIL = ['USER_ROLE', 'BUSINESS_UNIT', 'UNIT_MANAGER_POC', 'MANAGER_POC', 'UI_INTERFACE_STYLE', 'PERMISSIONS', 'NOTIFICATIONS'];

describe('user_list.php', () => {
  it('matches the official sample: prologue, element order, CDATA, no API element', async () => {
    const { url } = await startSandbox();
    await addUser(url, { external_id: 'EMP-7', asset_groups: 'AG 24', zip_code: '10004' });
    const r = await call(url, 'user_list.php');
    expect(r.status).toBe(200);
    expect(r.body.split('\n').slice(0, 3)).toEqual([
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<!DOCTYPE USER_LIST_OUTPUT SYSTEM "user_list_output.dtd">',
      '<USER_LIST_OUTPUT>',
    ]);
    const raw = cdataParser.parse(r.body);
    expect(Object.keys(raw.USER_LIST_OUTPUT)).toEqual(['USER_LIST']);
    const users = listUsers(raw);
    const mgr = users.find((u) => u.USER_LOGIN === 'sandbox_mgr');
    expect(Object.keys(mgr)).toEqual(['USER_LOGIN', 'USER_ID', 'CONTACT_INFO', 'USER_STATUS', 'CREATION_DATE', 'LAST_LOGIN_DATE', ...TAIL]);
    expect(mgr).toMatchObject({ USER_ROLE: 'Manager', MANAGER_POC: '1', UNIT_MANAGER_POC: '0', USER_STATUS: 'Active', UI_INTERFACE_STYLE: 'standard_blue' });
    expect(mgr.BUSINESS_UNIT['#cdata']).toBe('Unassigned');
    expect(Object.keys(mgr.PERMISSIONS)).toEqual(['CREATE_OPTION_PROFILES', 'PURGE_INFO', 'ADD_ASSETS', 'EDIT_REMEDIATION_POLICY', 'EDIT_AUTH_RECORDS']);
    expect(mgr.NOTIFICATIONS).toEqual({ LATEST_VULN: 'weekly', MAP: 'ags', SCAN: 'ags', DAILY_TICKETS: '0' });

    const added = users.find((u) => u.USER_LOGIN === 'quayscw1');
    expect(Object.keys(added)).toEqual([
      'USER_LOGIN',
      'USER_ID',
      'EXTERNAL_ID',
      'CONTACT_INFO',
      'ASSIGNED_ASSET_GROUPS',
      'USER_STATUS',
      'CREATION_DATE',
      'LAST_LOGIN_DATE',
      ...TAIL,
    ]);
    expect(added.USER_ID).toMatch(/^\d+$/);
    expect(added.EXTERNAL_ID['#cdata']).toBe('EMP-7');
    expect(added.ASSIGNED_ASSET_GROUPS.ASSET_GROUP_TITLE['#cdata']).toBe('AG 24');
    expect(added).toMatchObject({ USER_STATUS: 'Pending Activation', LAST_LOGIN_DATE: 'N/A', USER_ROLE: 'Scanner' });
    expect(added.CREATION_DATE).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const ci = added.CONTACT_INFO;
    expect(Object.keys(ci)).toEqual(CONTACT_ORDER);
    for (const k of CONTACT_ORDER.filter((k) => k !== 'COUNTRY' && k !== 'STATE')) expect(ci[k]).toHaveProperty('#cdata');
    expect(ci.COUNTRY).toBe('United States of America');
    expect(ci.STATE).toBe('New York');
    expect(ci.FIRSTNAME['#cdata']).toBe('Chris');
    expect(ci.COMPANY['#cdata']).toBe('Quays Sandbox, Inc.');
    expect(ci.ADDRESS2['#cdata']).toBe('');
    expect(ci.TIME_ZONE_CODE['#cdata']).toBe('Auto');
  });

  it('uses display names for every role and escapes text safely', async () => {
    const { url } = await startSandbox();
    await addUser(url, { user_role: 'reader', first_name: 'A&B <x> ]]> y', last_name: 'Q' });
    await addUser(url, { user_role: 'administrator', first_name: 'Ad', last_name: 'Min' });
    await addUser(url, { user_role: 'manager', first_name: 'Ma', last_name: 'Na' });
    await addUser(url, { user_role: 'scanner', first_name: 'Sc', last_name: 'An' });
    await call(url, 'user.php', addParams({ user_role: 'contact', first_name: 'Co', last_name: 'Nt' }));
    const r = await call(url, 'user_list.php');
    const users = listUsers(r.xml);
    const roles = new Set(users.map((u) => u.USER_ROLE));
    expect([...roles].sort()).toEqual(['Administrator', 'Contact', 'Manager', 'Reader', 'Scanner', 'Unit Manager']);
    expect(users.find((u) => u.USER_ROLE === 'Reader').CONTACT_INFO.FIRSTNAME).toBe('A&B <x> ]]> y');
  });

  it('shows LAST_LOGIN_DATE to managers only (administrators get none)', async () => {
    const { url } = await startSandbox();
    const asAdmin = listUsers((await call(url, 'user_list.php', {}, { user: ADMIN })).xml);
    expect(asAdmin.length).toBeGreaterThan(0);
    for (const u of asAdmin) expect(u).not.toHaveProperty('LAST_LOGIN_DATE');
    const asMgr = listUsers((await call(url, 'user_list.php')).xml);
    // The admin's last API call counts as its last login.
    expect(asMgr.find((u) => u.USER_LOGIN === ADMIN).LAST_LOGIN_DATE).toMatch(/Z$/);
  });

  it('filters by external id and rejects both filters together with 1904', async () => {
    const { url } = await startSandbox();
    await addUser(url, { external_id: 'sso-alice', first_name: 'Al' });
    await addUser(url, { external_id: 'sso-bob', first_name: 'Bo' });
    await addUser(url, { first_name: 'Cy' });
    const logins = async (q: Record<string, string>): Promise<string[]> =>
      listUsers((await call(url, 'user_list.php', q)).xml).map((u) => u.CONTACT_INFO.FIRSTNAME);
    expect(await logins({ external_id_contains: 'sso-' })).toEqual(['Al', 'Bo']);
    expect(await logins({ external_id_contains: 'SSO-' })).toEqual([]); // case-sensitive
    // A Unit Manager sees other units' users without their external id, so a filter on it
    // must not single them out.
    const asUnit = async (q: Record<string, string>): Promise<string[]> =>
      listUsers((await call(url, 'user_list.php', q, { user: UNIT })).xml).map((u) => u.CONTACT_INFO.FIRSTNAME);
    expect(await asUnit({})).toEqual(expect.arrayContaining(['Al', 'Bo', 'Cy']));
    expect(await asUnit({ external_id_contains: 'sso-' })).toEqual([]);
    expect(await asUnit({ external_id_assigned: '0' })).not.toContain('Cy');
    expect(await logins({ external_id_assigned: '1' })).toEqual(['Al', 'Bo']);
    expect((await logins({ external_id_assigned: '0' })).includes('Cy')).toBe(true);
    expect((await logins({ external_id_assigned: '0' })).includes('Al')).toBe(false);

    const both = await call(url, 'user_list.php', { external_id_contains: 'a', external_id_assigned: '1' });
    expect(both.status).toBe(200);
    expect(both.xml.USER_LIST_OUTPUT.ERROR).toEqual({
      '#text': 'Please specify only one of these parameters: external_id_contains, external_id_assigned',
      '@_number': '1904',
    });
    const unknown = await call(url, 'user_list.php', { page: '2' });
    expect(unknown.xml.USER_LIST_OUTPUT.ERROR['@_number']).toBe('1901');
    const empty = await call(url, 'user_list.php', { external_id_contains: 'zzz' });
    expect(empty.body).toContain('<USER_LIST_OUTPUT>\n  <USER_LIST>\n  </USER_LIST>\n</USER_LIST_OUTPUT>');
  });

  it('scopes a unit manager: full details in its unit, partial outside, none when restricted', async () => {
    const { url } = await startSandbox();
    await addUser(url, { business_unit: 'Engineering', first_name: 'En', last_name: 'Gi' });
    await addUser(url, { business_unit: 'Finance', first_name: 'Fi', last_name: 'Na', external_id: 'F1' });
    const users = listUsers((await call(url, 'user_list.php', {}, { user: UNIT })).xml);
    const eng = users.find((u) => u.CONTACT_INFO.FIRSTNAME === 'En');
    expect(eng.USER_LOGIN).toBe('quayseg1');
    expect(eng.LAST_LOGIN_DATE).toBe('N/A');
    const fin = users.find((u) => u.CONTACT_INFO.FIRSTNAME === 'Fi');
    expect(fin).toBeDefined();
    for (const hidden of ['USER_LOGIN', 'USER_ID', 'EXTERNAL_ID', 'LAST_LOGIN_DATE']) expect(fin).not.toHaveProperty(hidden);
    expect(fin.BUSINESS_UNIT).toBe('Finance');

    const restricted = await startSandbox({ subscriptions: [{ id: 'quays', restrict_unit_manager_view: true }] });
    await addUser(restricted.url, { business_unit: 'Finance', first_name: 'Fi', last_name: 'Na' });
    const seen = listUsers((await call(restricted.url, 'user_list.php', {}, { user: UNIT })).xml);
    expect(seen.every((u) => u.BUSINESS_UNIT === 'Engineering')).toBe(true);
    expect(seen.map((u) => u.USER_LOGIN)).toEqual(['sandbox_unit']);
  });

  it('reflects edits (the per-user cache is invalidated)', async () => {
    const { url } = await startSandbox();
    const { login } = await addUser(url);
    await call(url, 'user_list.php');
    await call(url, 'user.php', { action: 'edit', login, title: 'Chief' });
    const u = listUsers((await call(url, 'user_list.php')).xml).find((x) => x.USER_LOGIN === login);
    expect(u.CONTACT_INFO.TITLE).toBe('Chief');
  });

  it('lists generated seed users with mixed statuses', async () => {
    const { url } = await startSandbox({ users: 40 });
    const users = listUsers((await call(url, 'user_list.php')).xml);
    expect(users).toHaveLength(43);
    const statuses = new Set(users.map((u) => u.USER_STATUS));
    expect(statuses).toEqual(new Set(['Active', 'Inactive', 'Pending Activation']));
  });
});
