import { describe, expect, it } from 'vitest';
import { addUser, call, cdataParser, ret, startSandbox } from './helpers.js';

const ROOT = 'PASSWORD_CHANGE_OUTPUT';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function users(r: { xml: any }, block: 'CHANGES' | 'FAILURES' = 'CHANGES'): any[] {
  const list = r.xml[ROOT].RETURN[block]?.USER_LIST?.USER;
  return list === undefined ? [] : Array.isArray(list) ? list : [list];
}

describe('password_change.php', () => {
  it('with email=0 returns new passwords in CDATA and activates pending users', async () => {
    const { sandbox, url } = await startSandbox();
    const a = await addUser(url);
    const r = await call(url, 'password_change.php', { user_logins: a.login, email: '0' });
    expect(r.status).toBe(200);
    expect(r.body.split('\n').slice(0, 2)).toEqual([
      '<?xml version="1.0" encoding="UTF-8" ?>',
      '<!DOCTYPE PASSWORD_CHANGE_OUTPUT SYSTEM "https://qualysapi.qualys.com/password_change_output.dtd">',
    ]);
    const raw = cdataParser.parse(r.body)[ROOT];
    expect(raw.API).toMatchObject({ '@_name': 'password_change.php', '@_username': 'sandbox_mgr' });
    expect(raw.RETURN['@_status']).toBe('SUCCESS');
    expect(raw.RETURN.MESSAGE).toBe('The operation was successfully completed');
    expect(raw.RETURN.CHANGES['@_count']).toBe('1');
    const entry = raw.RETURN.CHANGES.USER_LIST.USER;
    expect(entry.USER_LOGIN).toBe(a.login);
    const newPassword: string = entry.PASSWORD['#cdata'];
    expect(newPassword).toHaveLength(8);
    expect(newPassword).not.toBe(a.password);
    expect(sandbox.findUser(a.login)).toMatchObject({ status: 'Active', password: newPassword });

    // The old password no longer authenticates; the new one does (the scanner then lacks rights).
    expect((await call(url, 'user_list.php', {}, { user: a.login, password: a.password })).status).toBe(401);
    const asUser = await call(url, 'user_list.php', {}, { user: a.login, password: newPassword });
    expect(asUser.status).toBe(200);
    expect(asUser.xml.USER_LIST_OUTPUT.ERROR['@_number']).toBe('2012');
  });

  it('by default (email=1) lists logins without passwords and leaves pending users pending', async () => {
    const { sandbox, url } = await startSandbox();
    const a = await addUser(url);
    const r = await call(url, 'password_change.php', { user_logins: a.login });
    expect(ret(r, ROOT).status).toBe('SUCCESS');
    expect(users(r)).toEqual([{ USER_LOGIN: a.login }]);
    expect(sandbox.findUser(a.login)?.status).toBe('Pending Activation');
    expect(sandbox.findUser(a.login)?.password).not.toBe(a.password);
  });

  it('user_logins=all resets everyone the caller may reach except itself and Contacts', async () => {
    const { sandbox, url } = await startSandbox();
    await addUser(url);
    await call(url, 'user.php', contact());
    const r = await call(url, 'password_change.php', { user_logins: 'all', email: '0' });
    const logins = users(r).map((u) => u.USER_LOGIN).sort();
    const expected = sandbox
      .users()
      .filter((u) => u.login !== 'sandbox_mgr' && u.role !== 'contact')
      .map((u) => u.login)
      .sort();
    expect(logins).toEqual(expected);
    expect(r.xml[ROOT].RETURN.CHANGES['@_count']).toBe(String(expected.length));
    // API accounts keep their configured password (pinned), so nobody is locked out.
    expect((await call(url, 'user_list.php', {}, { user: 'sandbox_admin' })).status).toBe(200);
  });

  it('reports partial failures as WARNING with a FAILURES list; unknown logins count as failures', async () => {
    const { url } = await startSandbox();
    const a = await addUser(url);
    await call(url, 'user.php', contact());
    const r = await call(url, 'password_change.php', { user_logins: `${a.login}, ghost1,sandbox_mgr,quayspc1`, email: '0' });
    const rv = ret(r, ROOT);
    expect(rv.status).toBe('WARNING');
    expect(rv.message).toBe('Passwords could not be changed for 3 of 4 account(s)');
    expect(users(r).map((u) => u.USER_LOGIN)).toEqual([a.login]);
    expect(r.xml[ROOT].RETURN.FAILURES['@_count']).toBe('3');
    expect(users(r, 'FAILURES')).toEqual([
      { USER_LOGIN: 'ghost1', REASON: 'User not found' },
      { USER_LOGIN: 'sandbox_mgr', REASON: 'The password of the calling account cannot be changed with this API' },
      { USER_LOGIN: 'quayspc1', REASON: 'Contacts have no login' },
    ]);
  });

  it('fails as a whole when nothing could be changed', async () => {
    const { url } = await startSandbox();
    const r = await call(url, 'password_change.php', { user_logins: 'ghost1,ghost2' });
    expect(ret(r, ROOT)).toMatchObject({ status: 'FAILED', number: '1905', message: 'parameter user_logins has invalid value: ghost1,ghost2' });
    expect(users(r, 'FAILURES')).toHaveLength(2);
  });

  it('validates parameters', async () => {
    const { url } = await startSandbox();
    expect(ret(await call(url, 'password_change.php', {}), ROOT)).toMatchObject({ status: 'FAILED', number: '1903', message: 'Missing required parameter(s): user_logins' });
    expect(ret(await call(url, 'password_change.php', { user_logins: 'sandbox_admin', send_email: '0' }), ROOT)).toMatchObject({
      number: '1901',
      message: 'Unrecognized parameter(s): send_email',
    });
    expect(ret(await call(url, 'password_change.php', { user_logins: 'sandbox_admin', email: '2' }), ROOT)).toMatchObject({
      number: '1905',
      message: 'parameter email has invalid value: 2',
    });
  });
});

function contact(): Record<string, string> {
  return {
    action: 'add',
    user_role: 'contact',
    business_unit: 'Unassigned',
    first_name: 'Pat',
    last_name: 'Cole',
    title: 'Contact',
    phone: '1',
    email: 'pat@example.com',
    address1: 'a',
    city: 'Paris',
    country: 'France',
  };
}
