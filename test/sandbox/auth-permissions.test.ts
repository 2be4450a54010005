import { describe, expect, it } from 'vitest';
import { ADMIN, LIMIT_HEADERS, MGR, PASSWORD, UNIT, addParams, addUser, call, ret, startSandbox } from './helpers.js';

describe('authentication', () => {
  it('answers 401 with GENERIC_RETURN 2000 for missing, wrong or unknown credentials', async () => {
    const { url } = await startSandbox();
    const attempts = [
      await call(url, 'user_list.php', {}, { auth: false }),
      await call(url, 'user_list.php', {}, { password: 'wrong' }),
      await call(url, 'user.php', addParams(), { user: 'nobody' }),
      await call(url, 'password_change.php', { user_logins: 'all' }, { auth: false, headers: { cookie: 'QualysSession=abc123' } }),
    ];
    for (const r of attempts) {
      expect(r.status).toBe(401);
      expect(r.body).toContain('<!DOCTYPE GENERIC_RETURN SYSTEM "https://qualysapi.qualys.com/generic_return.dtd">');
      expect(r.xml.GENERIC_RETURN.RETURN).toEqual({ '#text': 'Bad Login/Password', '@_status': 'FAILED', '@_number': '2000' });
      for (const h of LIMIT_HEADERS) expect(r.headers.get(h), h).not.toBeNull();
      expect(r.headers.get('www-authenticate')).toMatch(/^Basic realm="/);
    }
    expect((await call(url, 'user_list.php')).headers.get('www-authenticate')).toBeNull();
  });

  it('does not require X-Requested-With on /msp/', async () => {
    const { url } = await startSandbox();
    expect((await call(url, 'user_list.php')).status).toBe(200);
    expect((await call(url, 'user_list.php', {}, { headers: { 'x-requested-with': 'skein' } })).status).toBe(200);
  });

  it('serves users created through the API: pending -> 2003 until acceptEULA, inactive -> 2002', async () => {
    const { sandbox, url } = await startSandbox();
    const admin = await addUser(url, { user_role: 'administrator', first_name: 'Ada', last_name: 'Lane' });
    const pending = await call(url, 'user_list.php', {}, { user: admin.login, password: admin.password });
    expect(pending.status).toBe(200);
    expect(pending.xml.GENERIC_RETURN.RETURN['@_number']).toBe('2003');

    const eula = await call(url, 'acceptEULA.php', {}, { user: admin.login, password: admin.password });
    expect(eula.xml.GENERIC_RETURN.RETURN).toEqual({ '#text': 'TNC accepted within MSP', '@_status': 'SUCCESS' });
    expect(eula.xml.GENERIC_RETURN.API['@_name']).toBe('acceptEULA.php');
    expect(sandbox.findUser(admin.login)?.status).toBe('Active');
    expect((await call(url, 'user_list.php', {}, { user: admin.login, password: admin.password })).xml.USER_LIST_OUTPUT.USER_LIST).toBeDefined();

    await call(url, 'user.php', { action: 'deactivate', login: admin.login });
    const inactive = await call(url, 'user_list.php', {}, { user: admin.login, password: admin.password });
    expect(inactive.xml.GENERIC_RETURN.RETURN).toMatchObject({ '@_number': '2002', '#text': 'User account is inactive' });
  });
});

describe('permission matrix (§11)', () => {
  it('Manager: may edit and reset anyone but itself (password)', async () => {
    const { url } = await startSandbox();
    expect(ret(await call(url, 'user.php', { action: 'edit', login: ADMIN, title: 'Admin' })).status).toBe('SUCCESS');
    expect(ret(await call(url, 'user.php', { action: 'edit', login: MGR, title: 'Boss' })).status).toBe('SUCCESS');
    expect(ret(await call(url, 'user.php', addParams({ user_role: 'administrator' }))).status).toBe('SUCCESS');
    expect(ret(await call(url, 'user.php', addParams({ user_role: 'manager' }))).status).toBe('SUCCESS');
  });

  it('Administrator: not Managers or Administrators; password change excludes only Managers (QG-PWD)', async () => {
    const { url } = await startSandbox();
    const as = { user: ADMIN };
    expect(ret(await call(url, 'user.php', addParams(), as)).status).toBe('SUCCESS');
    expect(ret(await call(url, 'user.php', addParams({ user_role: 'manager' }), as))).toMatchObject({
      number: '1905',
      message: 'parameter user_role has invalid value: manager (not permitted for role Administrator)',
    });
    expect(ret(await call(url, 'user.php', addParams({ user_role: 'administrator' }), as)).number).toBe('1905');
    expect(ret(await call(url, 'user.php', { action: 'edit', login: MGR, title: 'x' }, as))).toMatchObject({
      number: '1905',
      message: 'parameter login has invalid value: sandbox_mgr (not permitted for role Administrator)',
    });
    const other = await addUser(url, { user_role: 'administrator', first_name: 'Oth', last_name: 'Er' });
    expect(ret(await call(url, 'user.php', { action: 'edit', login: other.login, title: 'x' }, as)).number).toBe('1905');
    expect(ret(await call(url, 'user.php', { action: 'edit', login: ADMIN, title: 'x' }, as)).number).toBe('1905');

    const pw = await call(url, 'password_change.php', { user_logins: `${MGR},${other.login}` }, as);
    expect(ret(pw, 'PASSWORD_CHANGE_OUTPUT').status).toBe('WARNING');
    expect(pw.xml.PASSWORD_CHANGE_OUTPUT.RETURN.CHANGES.USER_LIST.USER.USER_LOGIN).toBe(other.login);
    expect(pw.xml.PASSWORD_CHANGE_OUTPUT.RETURN.FAILURES.USER_LIST.USER).toEqual({ USER_LOGIN: MGR, REASON: 'Not permitted for the calling account' });
  });

  it('Administrator: activates and deactivates non-privileged users only', async () => {
    const { url } = await startSandbox();
    const scanner = await addUser(url);
    await call(url, 'password_change.php', { user_logins: scanner.login, email: '0' });
    expect(ret(await call(url, 'user.php', { action: 'deactivate', login: scanner.login }, { user: ADMIN })).status).toBe('SUCCESS');
    expect(ret(await call(url, 'user.php', { action: 'activate', login: scanner.login }, { user: ADMIN })).status).toBe('SUCCESS');
    expect(ret(await call(url, 'user.php', { action: 'deactivate', login: MGR }, { user: ADMIN })).number).toBe('1905');
  });

  it('Unit Manager: its own business unit only', async () => {
    const { url } = await startSandbox();
    const as = { user: UNIT };
    const eng = await call(url, 'user.php', addParams({ business_unit: 'Engineering', send_email: '0' }), as);
    expect(ret(eng).status).toBe('SUCCESS');
    const engLogin = eng.xml.USER_OUTPUT.USER.USER_LOGIN;
    expect(ret(await call(url, 'user.php', addParams({ business_unit: 'Finance' }), as))).toMatchObject({
      number: '1905',
      message: 'parameter business_unit has invalid value: Finance (not permitted for role Unit Manager)',
    });
    expect(ret(await call(url, 'user.php', addParams({ business_unit: 'Engineering', user_role: 'administrator' }), as)).number).toBe('1905');
    const fin = await addUser(url, { business_unit: 'Finance', first_name: 'Fi', last_name: 'Na' });
    expect(ret(await call(url, 'user.php', { action: 'edit', login: fin.login, title: 'x' }, as)).number).toBe('1905');
    expect(ret(await call(url, 'user.php', { action: 'edit', login: engLogin, title: 'x' }, as)).status).toBe('SUCCESS');

    const all = await call(url, 'password_change.php', { user_logins: 'all' }, as);
    const changed = all.xml.PASSWORD_CHANGE_OUTPUT.RETURN.CHANGES.USER_LIST.USER;
    expect(changed).toEqual({ USER_LOGIN: engLogin });
    const denied = await call(url, 'password_change.php', { user_logins: fin.login }, as);
    expect(ret(denied, 'PASSWORD_CHANGE_OUTPUT')).toMatchObject({ status: 'FAILED', number: '1905' });
  });

  it('Unit Manager: never a Manager or Administrator a Manager placed in its unit', async () => {
    const { sandbox, url } = await startSandbox();
    const boss = await addUser(url, { user_role: 'administrator', business_unit: 'Engineering', first_name: 'Bo', last_name: 'Ss' });
    const as = { user: UNIT };
    expect(ret(await call(url, 'user.php', { action: 'edit', login: boss.login, title: 'taken' }, as)).number).toBe('1905');
    const reset = await call(url, 'password_change.php', { user_logins: boss.login, email: '0' }, as);
    expect(ret(reset, 'PASSWORD_CHANGE_OUTPUT')).toMatchObject({ status: 'FAILED', number: '1905' });
    expect(sandbox.findUser(boss.login)).toMatchObject({ title: expect.not.stringMatching(/taken/), status: 'Pending Activation' });
  });

  it('Scanner and Reader accounts may not manage or list users (2012)', async () => {
    const { url } = await startSandbox({
      accounts: [
        { username: 'mgr', password: PASSWORD, role: 'manager' },
        { username: 'scan', password: PASSWORD, role: 'scanner' },
        { username: 'read', password: PASSWORD, role: 'reader' },
      ],
    });
    for (const user of ['scan', 'read']) {
      const add = await call(url, 'user.php', addParams(), { user });
      expect(ret(add)).toMatchObject({ status: 'FAILED', number: '2012', message: 'User license is not authorized to run this API' });
      expect(ret(await call(url, 'password_change.php', { user_logins: 'all' }, { user }), 'PASSWORD_CHANGE_OUTPUT').number).toBe('2012');
      expect((await call(url, 'user_list.php', {}, { user })).xml.USER_LIST_OUTPUT.ERROR['@_number']).toBe('2012');
    }
  });

  it('keeps subscriptions apart', async () => {
    const { url } = await startSandbox({
      accounts: [
        { username: 'a_mgr', password: PASSWORD, role: 'manager', subscription: 'acme' },
        { username: 'b_mgr', password: PASSWORD, role: 'manager', subscription: 'beta' },
      ],
    });
    const added = await call(url, 'user.php', addParams(), { user: 'a_mgr' });
    expect(ret(added).message).toBe('acmecw1 user has been successfully created.');
    expect(ret(await call(url, 'user.php', { action: 'edit', login: 'acmecw1', title: 'x' }, { user: 'b_mgr' })).number).toBe('1905');
    const bList = await call(url, 'user_list.php', {}, { user: 'b_mgr' });
    expect(bList.xml.USER_LIST_OUTPUT.USER_LIST.USER.USER_LOGIN).toBe('b_mgr');
  });
});
