import { describe, expect, it } from 'vitest';
import { addParams, addUser, call, cdataParser, ret, startSandbox } from './helpers.js';

describe('user.php action=add', () => {
  it('creates a Pending Activation user and answers the official USER_OUTPUT shape', async () => {
    const { sandbox, url } = await startSandbox();
    const r = await call(url, 'user.php', addParams());
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/xml');
    expect(r.body.split('\n').slice(0, 3)).toEqual([
      '<?xml version="1.0" encoding="UTF-8" ?>',
      '<!DOCTYPE USER_OUTPUT SYSTEM "https://qualysapi.qualys.com/user_output.dtd">',
      '<USER_OUTPUT>',
    ]);
    const out = r.xml.USER_OUTPUT;
    expect(Object.keys(out)).toEqual(['API', 'RETURN']);
    expect(out.API).toMatchObject({ '@_name': 'user.php', '@_username': 'sandbox_mgr' });
    expect(out.API['@_at']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(out.RETURN['@_status']).toBe('SUCCESS');
    expect(out.RETURN.MESSAGE).toBe('quayscw1 user has been successfully created.');
    const user = sandbox.findUser('quayscw1');
    expect(user).toMatchObject({
      status: 'Pending Activation',
      role: 'scanner',
      business_unit: 'Unassigned',
      first_name: 'Chris',
      last_name: 'Washington',
      email: 'chris.washington@example.com',
      state: 'New York',
      time_zone_code: 'Auto',
    });
    expect(sandbox.findUserByEmail('CHRIS.washington@example.com')?.login).toBe('quayscw1');
  });

  it('gives a user only asset groups of its business unit, or any group when it is in Unassigned', async () => {
    const { sandbox, url } = await startSandbox({
      subscriptions: [{ id: 'quays', business_units: ['Sales'], asset_groups: ['All', { title: 'EU Servers', business_unit: 'Sales' }] }],
    });
    const sales = await addUser(url, { business_unit: 'Sales', asset_groups: 'EU Servers' });
    expect(sandbox.findUser(sales.login)!.asset_groups).toEqual(['EU Servers']);
    const outside = await call(url, 'user.php', addParams({ business_unit: 'Sales', asset_groups: 'All', email: 'o@example.com' }));
    expect(ret(outside)).toMatchObject({ status: 'FAILED', number: '1905' });
    expect(ret(outside).message).toContain('asset_groups');
    expect(sandbox.findUserByEmail('o@example.com')).toBeUndefined();
    const unassigned = await addUser(url, { asset_groups: 'All,EU Servers', email: 'u@example.com' });
    expect(sandbox.findUser(unassigned.login)!.asset_groups).toEqual(['All', 'EU Servers']);
    // Edit checks the user's own unit the same way, and changes nothing when it refuses.
    expect(ret(await call(url, 'user.php', { action: 'edit', login: sales.login, asset_groups: 'All' }))).toMatchObject({ number: '1905' });
    expect(sandbox.findUser(sales.login)!.asset_groups).toEqual(['EU Servers']);
  });

  it('gives a new user the API user\'s zip code when zip_code is left out, and keeps a given one', async () => {
    const { sandbox, url } = await startSandbox();
    const caller = sandbox.findUser('sandbox_mgr')!;
    expect(caller.zip_code).not.toBe('');
    await call(url, 'user.php', addParams({ zip_code: undefined }));
    await call(url, 'user.php', addParams({ zip_code: '10004', email: 'z@example.com' }));
    expect(sandbox.findUserByEmail('chris.washington@example.com')!.zip_code).toBe(caller.zip_code);
    expect(sandbox.findUserByEmail('z@example.com')!.zip_code).toBe('10004');
  });

  it('returns USER_LOGIN and PASSWORD after RETURN with send_email=0, and numbers logins uniquely', async () => {
    const { sandbox, url } = await startSandbox();
    await call(url, 'user.php', addParams());
    const r = await call(url, 'user.php', addParams({ send_email: '0' }));
    const out = r.xml.USER_OUTPUT;
    expect(Object.keys(out)).toEqual(['API', 'RETURN', 'USER']);
    expect(out.USER.USER_LOGIN).toBe('quayscw2');
    expect(out.RETURN.MESSAGE).toBe('quayscw2 user has been successfully created.');
    const password: string = out.USER.PASSWORD;
    expect(password).toHaveLength(8);
    expect(password).toMatch(/[a-z]/);
    expect(password).toMatch(/[A-Z]/);
    expect(password).toMatch(/\d/);
    expect(password).toMatch(/[^A-Za-z0-9]/);
    expect(sandbox.findUser('quayscw2')?.password).toBe(password);
  });

  it('reads parameters from a POST form body merged with the query; the last duplicate wins', async () => {
    const { sandbox, url } = await startSandbox();
    const body = new URLSearchParams(addParams({ first_name: 'Zed' }));
    body.append('first_name', 'Alex');
    const r = await call(url, 'user.php', { title: 'from-query' }, { body: body.toString() });
    expect(ret(r).status).toBe('SUCCESS');
    expect(ret(r).message).toBe('quaysaw1 user has been successfully created.');
    expect(sandbox.findUser('quaysaw1')).toMatchObject({ first_name: 'Alex', title: 'Security Consultant' });
  });

  it('wraps FAILED messages in CDATA inside the USER_OUTPUT envelope at HTTP 200', async () => {
    const { url } = await startSandbox();
    const r = await call(url, 'user.php', { action: 'add' });
    expect(r.status).toBe(200);
    expect(r.body).toContain('<RETURN status="FAILED" number="1903">');
    const raw = cdataParser.parse(r.body);
    expect(raw.USER_OUTPUT.RETURN.MESSAGE['#cdata']).toBe(
      'Missing required parameter(s): user_role, business_unit, first_name, last_name, title, phone, email, address1, city, country',
    );
    expect(raw.USER_OUTPUT.API['@_name']).toBe('user.php');
  });

  const cases: Array<[string, Record<string, string | undefined>, string, string]> = [
    ['login is not a parameter of add', { login: 'quays_x1' }, '1901', 'Unrecognized parameter(s): login'],
    ['unknown parameter', { nickname: 'cw' }, '1901', 'Unrecognized parameter(s): nickname'],
    ['names are case-sensitive', { First_Name: 'X' }, '1901', 'Unrecognized parameter(s): First_Name'],
    ['missing state for the USA', { state: undefined }, '1903', 'Missing required parameter(s): state'],
    ['missing phone (required in the sandbox)', { phone: undefined }, '1903', 'Missing required parameter(s): phone'],
    ['empty value counts as missing', { email: '' }, '1903', 'Missing required parameter(s): email'],
    ['blank value counts as missing', { first_name: '  ', city: ' ' }, '1903', 'Missing required parameter(s): first_name, city'],
    ['unknown role', { user_role: 'superuser' }, '1905', 'parameter user_role has invalid value: superuser'],
    ['ISO country code', { country: 'US' }, '1905', 'parameter country has invalid value: US'],
    ['state of another country', { state: 'Ontario' }, '1905', 'parameter state has invalid value: Ontario'],
    ['bad email', { email: 'not-an-email' }, '1905', 'parameter email has invalid value: not-an-email'],
    ['first_name over 50 characters (emoji count as one)', { first_name: '\u{1F600}'.repeat(51) }, '1905', `parameter first_name has invalid value: ${'\u{1F600}'.repeat(51)} (max 50 characters)`],
    ['first_name over 50', { first_name: 'x'.repeat(51) }, '1905', `parameter first_name has invalid value: ${'x'.repeat(51)} (max 50 characters)`],
    ['title over 100', { title: 't'.repeat(101) }, '1905', `parameter title has invalid value: ${'t'.repeat(101)} (max 100 characters)`],
    ['send_email not 0/1', { send_email: 'yes' }, '1905', 'parameter send_email has invalid value: yes'],
    ['unknown asset group', { asset_groups: 'Mars' }, '1905', 'parameter asset_groups has invalid value: Mars'],
    ['contact with send_email', { user_role: 'contact', send_email: '0' }, '1907', 'The following combination of key=value pairs is not supported: user_role=contact, send_email=0'],
    ['asset groups for a manager', { user_role: 'manager', asset_groups: 'New York' }, '1907', 'The following combination of key=value pairs is not supported: user_role=manager, asset_groups=New York'],
    ['asset groups for a unit manager', { user_role: 'unit_manager', business_unit: 'Engineering', asset_groups: 'London' }, '1907', 'The following combination of key=value pairs is not supported: user_role=unit_manager, asset_groups=London'],
    ['asset groups for an administrator (scanner, reader and contact only)', { user_role: 'administrator', asset_groups: 'New York' }, '1907', 'The following combination of key=value pairs is not supported: user_role=administrator, asset_groups=New York'],
    ['manager in a custom unit', { user_role: 'manager', business_unit: 'Finance' }, '1907', 'The following combination of key=value pairs is not supported: user_role=manager, business_unit=Finance'],
    ['unit manager in Unassigned', { user_role: 'unit_manager' }, '1905', 'parameter business_unit has invalid value: Unassigned (a unit manager needs a custom business unit)'],
    ['unknown unit for a scanner', { business_unit: 'Mars Base' }, '1905', 'parameter business_unit has invalid value: Mars Base (unknown business unit)'],
  ];
  it('counts characters, not UTF-16 units: 30 emoji are a valid 50-character name', async () => {
    const { url } = await startSandbox();
    expect(ret(await call(url, 'user.php', addParams({ first_name: '\u{1F600}'.repeat(30) }))).status).toBe('SUCCESS');
  });

  it.each(cases)('rejects: %s', async (_name, overrides, code, message) => {
    const { sandbox, url } = await startSandbox();
    const before = sandbox.users().length;
    const r = await call(url, 'user.php', addParams(overrides));
    expect(r.status).toBe(200);
    expect(ret(r)).toMatchObject({ status: 'FAILED', number: code, message });
    expect(sandbox.users()).toHaveLength(before);
  });

  it('rejects unknown and missing actions', async () => {
    const { url } = await startSandbox();
    expect(ret(await call(url, 'user.php', { action: 'delete', login: 'x' }))).toMatchObject({
      status: 'FAILED',
      number: '1905',
      message: 'parameter action has invalid value: delete',
    });
    expect(ret(await call(url, 'user.php', { Action: 'add' }))).toMatchObject({ number: '1903', message: 'Missing required parameter(s): action' });
  });

  it('adds a contact without credentials and keeps state empty for countries without a list', async () => {
    const { sandbox, url } = await startSandbox();
    const r = await call(url, 'user.php', addParams({ user_role: 'contact', country: 'Germany', state: 'Bavaria', city: 'Berlin' }));
    expect(ret(r).status).toBe('SUCCESS');
    expect(r.xml.USER_OUTPUT.USER).toBeUndefined();
    const u = sandbox.users().find((x) => x.role === 'contact');
    expect(u).toMatchObject({ country: 'Germany', state: '', password: null });
  });

  it('creates an unknown business unit for a unit manager and makes it the primary contact', async () => {
    const { sandbox, url } = await startSandbox();
    const r = await call(url, 'user.php', addParams({ user_role: 'unit_manager', business_unit: 'Research', first_name: 'Rae', last_name: 'Lin' }));
    expect(ret(r).status).toBe('SUCCESS');
    expect(sandbox.findUser('quaysrl1')).toMatchObject({ business_unit: 'Research', unit_manager_poc: true });
    // The unit now exists, so a scanner may join it.
    expect(ret(await call(url, 'user.php', addParams({ business_unit: 'Research' }))).status).toBe('SUCCESS');
  });

  it('accepts asset groups for scanners and states for Canada, Australia and India', async () => {
    const { sandbox, url } = await startSandbox();
    await call(url, 'user.php', addParams({ asset_groups: 'New York, Hong Kong', country: 'Canada', state: 'Ontario', first_name: 'Ann', last_name: 'Bo' }));
    expect(sandbox.findUser('quaysab1')).toMatchObject({ asset_groups: ['New York', 'Hong Kong'], state: 'Ontario' });
    for (const [country, state] of [['Australia', 'Victoria'], ['India', 'Delhi']]) {
      expect(ret(await call(url, 'user.php', addParams({ country, state }))).status).toBe('SUCCESS');
    }
  });
});
