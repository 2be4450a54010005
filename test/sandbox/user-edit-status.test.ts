import { describe, expect, it } from 'vitest';
import { addUser, call, ret, startSandbox } from './helpers.js';

describe('user.php action=edit', () => {
  it('replaces given values, clears optional ones with an empty value, answers "updated"', async () => {
    const { sandbox, url } = await startSandbox();
    const { login } = await addUser(url, { external_id: 'EMP1', fax: '123', asset_groups: 'London' });
    const r = await call(url, 'user.php', { action: 'edit', login, title: 'CIO', external_id: '', fax: '', asset_groups: 'New York,Hong Kong' });
    expect(ret(r)).toMatchObject({ status: 'SUCCESS', message: `${login} user has been successfully updated.` });
    expect(sandbox.findUser(login)).toMatchObject({ title: 'CIO', external_id: '', fax: '', asset_groups: ['New York', 'Hong Kong'] });
    // Untouched fields stay.
    expect(sandbox.findUser(login)).toMatchObject({ first_name: 'Chris', city: 'New York' });
  });

  it('requires a state when the country changes to one with a state list', async () => {
    const { sandbox, url } = await startSandbox();
    const { login } = await addUser(url, { country: 'Germany', state: undefined, city: 'Berlin' });
    expect(ret(await call(url, 'user.php', { action: 'edit', login, country: 'Canada' }))).toMatchObject({
      number: '1903',
      message: 'Missing required parameter(s): state',
    });
    expect(ret(await call(url, 'user.php', { action: 'edit', login, country: 'Canada', state: 'Texas' }))).toMatchObject({
      number: '1905',
      message: 'parameter state has invalid value: Texas',
    });
    expect(ret(await call(url, 'user.php', { action: 'edit', login, country: 'Canada', state: 'Quebec' })).status).toBe('SUCCESS');
    expect(sandbox.findUser(login)).toMatchObject({ country: 'Canada', state: 'Quebec' });
    expect(ret(await call(url, 'user.php', { action: 'edit', login, country: 'France' })).status).toBe('SUCCESS');
    expect(sandbox.findUser(login)).toMatchObject({ country: 'France', state: '' });
  });

  const cases: Array<[string, Record<string, string>, string, string]> = [
    ['user_role cannot be edited', { user_role: 'reader' }, '1901', 'Unrecognized parameter(s): user_role'],
    ['business_unit cannot be edited', { business_unit: 'Finance' }, '1901', 'Unrecognized parameter(s): business_unit'],
    ['send_email is not an edit parameter', { send_email: '0' }, '1901', 'Unrecognized parameter(s): send_email'],
    ['required fields cannot be cleared', { first_name: '' }, '1905', 'parameter first_name has invalid value:  (required field cannot be cleared)'],
    ['nor blanked with spaces, as add sees them', { title: '   ' }, '1905', 'parameter title has invalid value:     (required field cannot be cleared)'],
    ['lengths apply on edit', { city: 'c'.repeat(51) }, '1905', `parameter city has invalid value: ${'c'.repeat(51)} (max 50 characters)`],
  ];
  it.each(cases)('rejects: %s', async (_name, extra, code, message) => {
    const { url } = await startSandbox();
    const { login } = await addUser(url);
    expect(ret(await call(url, 'user.php', { action: 'edit', login, ...extra }))).toMatchObject({ status: 'FAILED', number: code, message });
  });

  it('rejects a missing or unknown login', async () => {
    const { url } = await startSandbox();
    expect(ret(await call(url, 'user.php', { action: 'edit', title: 'x' }))).toMatchObject({ number: '1903', message: 'Missing required parameter(s): login' });
    expect(ret(await call(url, 'user.php', { action: 'edit', login: 'nobody1', title: 'x' }))).toMatchObject({
      number: '1905',
      message: 'parameter login has invalid value: nobody1',
    });
  });

  it('refuses asset groups for a manager on edit', async () => {
    const { url } = await startSandbox();
    const { login } = await addUser(url, { user_role: 'manager', first_name: 'Mia', last_name: 'Ode' });
    expect(ret(await call(url, 'user.php', { action: 'edit', login, asset_groups: 'London' }))).toMatchObject({ number: '1907' });
  });
});

describe('user.php action=activate / deactivate', () => {
  it('deactivates only Active users and activates only Inactive users', async () => {
    const { sandbox, url } = await startSandbox();
    const { login } = await addUser(url);
    // Pending Activation can be neither activated nor deactivated.
    expect(ret(await call(url, 'user.php', { action: 'activate', login }))).toMatchObject({
      status: 'FAILED',
      number: '1905',
      message: `parameter login has invalid value: ${login} (user status is Pending Activation; only Inactive users can be activated)`,
    });
    expect(ret(await call(url, 'user.php', { action: 'deactivate', login }))).toMatchObject({ status: 'FAILED', number: '1905' });

    // password_change with email=0 makes it Active.
    await call(url, 'password_change.php', { user_logins: login, email: '0' });
    expect(sandbox.findUser(login)?.status).toBe('Active');

    expect(ret(await call(url, 'user.php', { action: 'deactivate', login }))).toMatchObject({
      status: 'SUCCESS',
      message: `${login} user has been successfully deactivated.`,
    });
    expect(sandbox.findUser(login)?.status).toBe('Inactive');
    expect(ret(await call(url, 'user.php', { action: 'deactivate', login }))).toMatchObject({
      status: 'FAILED',
      number: '1905',
      message: `parameter login has invalid value: ${login} (user status is Inactive; only Active users can be deactivated)`,
    });
    expect(ret(await call(url, 'user.php', { action: 'activate', login }))).toMatchObject({
      status: 'SUCCESS',
      message: `${login} user has been successfully activated.`,
    });
    expect(sandbox.findUser(login)?.status).toBe('Active');
  });

  it('takes only action and login', async () => {
    const { url } = await startSandbox();
    expect(ret(await call(url, 'user.php', { action: 'activate', login: 'x', title: 'y' }))).toMatchObject({
      number: '1901',
      message: 'Unrecognized parameter(s): title',
    });
    expect(ret(await call(url, 'user.php', { action: 'deactivate' }))).toMatchObject({ number: '1903', message: 'Missing required parameter(s): login' });
    expect(ret(await call(url, 'user.php', { action: 'activate', login: 'ghost9' }))).toMatchObject({
      number: '1905',
      message: 'parameter login has invalid value: ghost9',
    });
  });

  it('does not let the caller deactivate itself', async () => {
    const { url } = await startSandbox();
    expect(ret(await call(url, 'user.php', { action: 'deactivate', login: 'sandbox_mgr' }))).toMatchObject({ status: 'FAILED', number: '1905' });
  });
});
