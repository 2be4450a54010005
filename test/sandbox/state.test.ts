import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { QualysSandbox, loadAccountsFile } from '../../src/sandbox/index.js';
import { addParams, call, ret, startSandbox } from './helpers.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'skein-sandbox-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('seed data and library API', () => {
  it('generates the same users for the same seed, different ones for another seed', () => {
    const a = new QualysSandbox({ seed: 5, users: 25 }).users();
    const b = new QualysSandbox({ seed: 5, users: 25 }).users();
    const c = new QualysSandbox({ seed: 6, users: 25 }).users();
    expect(a).toHaveLength(28);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(new Set(a.map((u) => u.role))).toContain('scanner');
    expect(a.filter((u) => u.external_id !== '').length).toBeGreaterThan(0);
  });

  it('exposes the default accounts, seeds users directly and finds them', async () => {
    const sandbox = new QualysSandbox();
    expect(sandbox.accounts.map((a) => [a.username, a.password, a.role, a.business_unit, a.subscription])).toEqual([
      ['sandbox_mgr', 'sandbox-password', 'manager', 'Unassigned', 'quays'],
      ['sandbox_admin', 'sandbox-password', 'administrator', 'Unassigned', 'quays'],
      ['sandbox_unit', 'sandbox-password', 'unit_manager', 'Engineering', 'quays'],
    ]);
    const u = sandbox.addUser({ role: 'reader', first_name: 'Rita', last_name: 'Ng', email: 'Rita@Example.com', status: 'Active', external_id: 'X1' });
    expect(u.login).toBe('quaysrn1');
    expect(u.password).toHaveLength(8);
    expect(sandbox.findUserByEmail('rita@example.com')?.login).toBe('quaysrn1');
    expect(() => sandbox.addUser({ role: 'reader', first_name: 'a', last_name: 'b', email: 'x@y.z', login: 'quaysrn1' })).toThrow(/already exists/);
    expect(() => sandbox.addUser({ role: 'boss' as never, first_name: 'a', last_name: 'b', email: 'x@y.z' })).toThrow(/unknown role/);
    // Snapshots are copies.
    sandbox.users()[0]!.first_name = 'changed';
    expect(sandbox.users()[0]!.first_name).not.toBe('changed');
  });

  it('round-trips state through toJSON/load and keeps generating unique logins', async () => {
    const { sandbox: a, url } = await startSandbox({ users: 5 });
    await call(url, 'user.php', addParams());
    const state = JSON.parse(JSON.stringify(a.toJSON()));
    const b = new QualysSandbox({ seed: 99 });
    b.load(state);
    expect(b.users()).toEqual(a.users());
    const { url: urlB } = await b.start({ port: 0 });
    try {
      expect(ret(await call(urlB, 'user.php', addParams())).message).toBe('quayscw2 user has been successfully created.');
    } finally {
      await b.stop();
    }
  });

  it('reset() restores the initial users and clears stats', async () => {
    const { sandbox, url } = await startSandbox({ users: 3 });
    const initial = sandbox.users();
    await call(url, 'user.php', addParams());
    expect(sandbox.users()).toHaveLength(initial.length + 1);
    sandbox.reset();
    expect(sandbox.users()).toEqual(initial);
    expect(sandbox.stats()).toEqual({ requests: 0, byScript: {} });
  });
});

describe('state file', () => {
  it('persists changes and loads them on the next start', async () => {
    const file = join(tempDir(), 'state.json');
    const first = new QualysSandbox({ seed: 1, stateFile: file });
    const { url } = await first.start({ port: 0 });
    await call(url, 'user.php', addParams({ external_id: 'P-1' }));
    await first.stop();
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved.version).toBe(1);
    expect(saved.subscriptions[0].users.map((u: { login: string }) => u.login)).toContain('quayscw1');

    const second = new QualysSandbox({ seed: 1, stateFile: file });
    expect(second.findUser('quayscw1')).toMatchObject({ external_id: 'P-1', status: 'Pending Activation' });
    await second.stop();
  });

  it('refuses to start when the state file cannot be written, and reports a later failed save without losing the change', async () => {
    const dir = tempDir();
    const missing = new QualysSandbox({ stateFile: join(dir, 'no', 'such', 'state.json') });
    await expect(missing.start({ port: 0 })).rejects.toMatchObject({ code: 'sandbox-state', message: expect.stringMatching(/cannot write sandbox state file .*state\.json \(ENOENT\)/) });
    const errors: string[] = [];
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    const sandbox = new QualysSandbox({ seed: 1, stateFile: join(sub, 'state.json'), onStateError: (e) => errors.push(`${e.code}: ${e.message}`) });
    const { url } = await sandbox.start({ port: 0 });
    rmSync(sub, { recursive: true });
    const added = await call(url, 'user.php', addParams({ external_id: 'P-2' }));
    expect(added.body).toContain('SUCCESS');
    await vi.waitFor(() => expect(errors).toEqual([expect.stringMatching(/^sandbox-state: cannot write sandbox state file .*ENOENT/)]));
    // Still serving; once the folder is back, the pending change is saved.
    mkdirSync(sub);
    await sandbox.stop();
    expect(JSON.parse(readFileSync(join(sub, 'state.json'), 'utf8')).subscriptions[0].users.map((u: { external_id?: string }) => u.external_id)).toContain('P-2');
  });

  it('rejects a state file that is not a sandbox state', () => {
    const file = join(tempDir(), 'bad.json');
    writeFileSync(file, '{"version": 9}');
    expect(() => new QualysSandbox({ stateFile: file })).toThrow(/unsupported version 9/);
    writeFileSync(file, 'not json');
    expect(() => new QualysSandbox({ stateFile: file })).toThrow(/not valid JSON/);
  });
});

describe('accounts file', () => {
  it('reads YAML with subscriptions and JSON lists', async () => {
    const dir = tempDir();
    const yamlFile = join(dir, 'accounts.yaml');
    writeFileSync(
      yamlFile,
      [
        'subscriptions:',
        '  - id: acme',
        '    login_prefix: acme_',
        '    company: Acme, Inc.',
        '    limits: { rate: "300/3600", concurrency: 2 }',
        'accounts:',
        '  - { username: acme_mgr, password: s3cret, role: manager, subscription: acme }',
        '  - { username: acme_um, password: s3cret, role: unit_manager, business_unit: Sales, subscription: acme }',
      ].join('\n'),
    );
    const file = await loadAccountsFile(yamlFile);
    expect(file.subscriptions[0]?.limits).toEqual({ rate: { calls: 300, windowSec: 3600 }, concurrency: 2 });
    const { url } = await startSandbox(file);
    const r = await call(url, 'user.php', addParams(), { user: 'acme_mgr', password: 's3cret' });
    expect(ret(r).message).toBe('acme_cw1 user has been successfully created.');
    expect(r.headers.get('x-ratelimit-limit')).toBe('300');
    expect(r.headers.get('x-concurrency-limit-limit')).toBe('2');

    const jsonFile = join(dir, 'accounts.json');
    writeFileSync(jsonFile, JSON.stringify([{ username: 'solo', password: 'pw', role: 'administrator' }]));
    expect((await loadAccountsFile(jsonFile)).accounts).toEqual([{ username: 'solo', password: 'pw', role: 'administrator' }]);
  });

  it('lists every problem of a bad file', async () => {
    const file = join(tempDir(), 'bad.yaml');
    writeFileSync(
      file,
      ['accounts:', '  - { username: a, password: "", role: boss }', '  - { username: b, password: x, role: unit_manager, colour: red }'].join('\n'),
    );
    const err = await loadAccountsFile(file).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('accounts[1]: unknown key "colour"');
    // The unknown key does not hide the bad values beside it.
    expect((err as Error).message).toContain('accounts[0].password must be a non-empty string');
    expect((err as Error).message).toContain('accounts[0].role "boss" is not one of');
    writeFileSync(file, 'accounts:\n  - { username: "bad name", password: "", role: boss }\n');
    const bad = ((await loadAccountsFile(file).catch((e: Error) => e)) as Error).message;
    expect(bad).toMatch(/username must be .*; accounts\[0\]\.password must be .*; accounts\[0\]\.role "boss"/);
    await expect(loadAccountsFile(join(tempDir(), 'missing.yaml'))).rejects.toMatchObject({ code: 'unreadable-path' });
    writeFileSync(file, 'accounts:\n  - { username: a, password: "", role: boss }\n  - { username: b, password: x, role: unit_manager }\n');
    const err2 = (await loadAccountsFile(file).catch((e: Error) => e)) as Error;
    expect(err2.message).toContain('accounts[0].password must be a non-empty string');
    expect(err2.message).toContain('accounts[0].role "boss" is not one of');
    expect(err2.message).toContain('accounts[1]: a unit_manager needs a business_unit other than Unassigned');
    writeFileSync(file, 'subscriptions:\n  - { id: quays, asset_groups: [All, { business_unit: Sales }] }\naccounts:\n  - { username: a, password: x, role: manager }\n');
    expect(((await loadAccountsFile(file).catch((e: Error) => e)) as Error).message).toMatch(/subscriptions\[0\]\.asset_groups\[1\] must be a title or \{ title, business_unit \}/);
    writeFileSync(file, 'accounts:\n  - { username: a, password: x }\n');
    expect(((await loadAccountsFile(file).catch((e: Error) => e)) as Error).message).toMatch(/accounts\[0\]\.role is missing; give one of /);
  });
});
