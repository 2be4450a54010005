// The engine end to end: example workflows against the Qualys sandbox over real HTTP, a real
// SQLite store, and the sandbox's own state as the judge of what happened.
import { afterEach, describe, expect, it } from 'vitest';
import { runWorkflow } from '../../src/engine/run.js';
import { planWorkflow } from '../../src/engine/plan.js';
import { runPending } from '../../src/engine/pending.js';
import { harness, person, type Harness } from './harness.js';
import { HttpClient } from '../../src/http/index.js';
import { startServer } from '../http/server.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('create user', () => {
  it('creates one Qualys user per matching record and maps login and password back', async () => {
    h = await harness();
    await h.store.upsertMany('users', [person('ada.lovelace'), person('alan.turing'), person('grace.hopper', { status: 'Inactive' })]);
    const s = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
    expect(s).toMatchObject({ considered: 3, matched: 2, succeeded: 2, failed: 0, status: 'succeeded' });
    const qualys = h.sandbox.users().filter((u) => u.email.endsWith('@corp.test'));
    expect(qualys.map((u) => u.email).sort()).toEqual(['ada.lovelace@corp.test', 'alan.turing@corp.test']);
    const ada = (await h.store.getRecord('users', 'ada.lovelace'))!.fields;
    const inQualys = h.sandbox.findUserByEmail('ada.lovelace@corp.test')!;
    expect(ada.qualys_login).toBe(inQualys.login);
    expect(ada.qualys_status).toBe('Pending Activation');
    // The password reaches only the sensitive field; the raw answer keeps it redacted.
    expect(typeof ada.qualys_password).toBe('string');
    expect(String(ada.qualys_password).length).toBeGreaterThanOrEqual(8);
    expect(String(ada.api_response)).toContain('[REDACTED]');
    expect(String(ada.api_response)).not.toContain(String(ada.qualys_password));
    const run = await h.store.getRun(s.runId);
    expect(JSON.stringify(run)).not.toContain(String(ada.qualys_password));
    expect(JSON.stringify(run)).not.toContain('sandbox-password');
    // A second run finds nothing to do: the rule needs an empty qualys_login.
    const again = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
    expect(again.matched).toBe(0);
    expect(h.sandbox.users().filter((u) => u.email.endsWith('@corp.test'))).toHaveLength(2);
  });

  it('refuses a bad value before sending and goes on with the other records', async () => {
    h = await harness();
    await h.store.upsertMany('users', [person('ok.one'), person('long.name', { first_name: 'X'.repeat(60) })]);
    const s = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
    expect(s).toMatchObject({ matched: 2, succeeded: 1, failed: 1, status: 'partial' });
    expect(s.failures[0]).toMatchObject({ key: 'long.name', step: 'create' });
    expect(s.failures[0]!.error).toMatch(/first_name is 60 characters long; at most 50/);
    expect(h.sandbox.findUserByEmail('long.name@corp.test')).toBeUndefined();
  });

  it('stops before any request when a credential variable is missing', async () => {
    h = await harness({ env: { QUALYS_USERNAME: 'sandbox_mgr' } });
    await h.store.upsertMany('users', [person('ada.lovelace')]);
    await expect(runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' })).rejects.toThrow(/environment variable QUALYS_PASSWORD .*is not set/);
    expect(h.sandbox.stats().requests).toBe(0);
  });
});

describe('activate, deactivate, edit, change password', () => {
  it('deactivates leavers and records a Qualys FAILED answer in the record and history', async () => {
    h = await harness();
    const active = h.sandbox.addUser({ role: 'scanner', first_name: 'Lee', last_name: 'Ver', email: 'lee@corp.test', status: 'Active' });
    const pending = h.sandbox.addUser({ role: 'scanner', first_name: 'Pen', last_name: 'Ding', email: 'pen@corp.test' });
    await h.store.upsertMany('users', [
      person('lee.ver', { status: 'Leaver', qualys_login: active.login, qualys_status: 'Active' }),
      person('pen.ding', { status: 'Inactive', qualys_login: pending.login, qualys_status: 'Active' }),
    ]);
    const s = await runWorkflow(h.deps, h.workflow('qualys-deactivate-leavers'), { trigger: 'manual' });
    expect(s).toMatchObject({ matched: 2, succeeded: 1, failed: 1 });
    expect(h.sandbox.findUser(active.login)!.status).toBe('Inactive');
    expect(h.sandbox.findUser(pending.login)!.status).toBe('Pending Activation');
    const pen = (await h.store.getRecord('users', 'pen.ding'))!.fields;
    expect(pen.qualys_status).toBe('Active');
    const run = await h.store.getRun(s.runId);
    const step = run!.records.find((r) => r.key === 'pen.ding')!.steps[0]!;
    // error_response maps {{error.message}}: the same line run history keeps.
    expect(pen.qualys_error).toMatch(/^Qualys answered FAILED \d+: /);
    expect(pen.qualys_error).toBe(step.error);
    expect(step).toMatchObject({ status: 'failed', http_status: 200 });
    expect(step.qualys_code).toMatch(/^\d+$/);
    expect(step.error).toMatch(/Qualys answered FAILED/);
  });

  it('a later step sees the mapping of an earlier idempotent step, in its when and its params', async () => {
    h = await harness({
      extra: {
        'two-steps.yaml': [
          'version: 1',
          'name: two-steps',
          'object: users',
          'trigger: { on: [manual] }',
          'rules: { field: status, equals: Leaver }',
          'steps:',
          '  - id: deactivate',
          '    preset: qualys.deactivate_user',
          '    credentials: qualys',
          '    params: { login: "{{qualys_login}}" }',
          '    response: { qualys_status: Inactive }',
          '  - id: note',
          '    preset: qualys.edit_user',
          '    credentials: qualys',
          '    when: { field: qualys_status, equals: Inactive }',
          '    params: { login: "{{qualys_login}}", title: "was {{qualys_status}}" }',
          '',
        ].join('\n'),
      },
    });
    const u = h.sandbox.addUser({ role: 'scanner', first_name: 'Lee', last_name: 'Ver', email: 'lee@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('lee.ver', { status: 'Leaver', qualys_login: u.login, qualys_status: 'Active' })]);
    const s = await runWorkflow(h.deps, h.workflow('two-steps'), { trigger: 'manual' });
    expect(s.steps).toMatchObject({ deactivate: { succeeded: 1 }, note: { succeeded: 1, skipped: 0 } });
    expect(h.sandbox.findUser(u.login)).toMatchObject({ status: 'Inactive', title: 'was Inactive' });
  });

  it('sends a login containing &action=add as one form value', async () => {
    h = await harness();
    await h.store.upsertMany('users', [person('evil.user', { status: 'Leaver', qualys_login: 'x&action=add&user_role=manager', qualys_status: 'Active' })]);
    const before = h.sandbox.users().length;
    const s = await runWorkflow(h.deps, h.workflow('qualys-deactivate-leavers'), { trigger: 'manual' });
    expect(s.failed).toBe(1);
    expect(s.failures[0]!.error).toContain('x&action=add&user_role=manager');
    expect(h.sandbox.users()).toHaveLength(before);
  });

  it('reactivates on a status change to Active through run --pending, once per event', async () => {
    h = await harness();
    const u = h.sandbox.addUser({ role: 'reader', first_name: 'Re', last_name: 'Turn', email: 're@corp.test', status: 'Inactive' });
    await h.store.upsertMany('users', [person('re.turn', { status: 'Leaver', qualys_login: u.login, qualys_status: 'Inactive' })]);
    await h.store.setFields('users', 're.turn', { status: 'Active' });
    const first = await runPending(h.deps);
    const activation = first.find((s) => s.workflow === 'qualys-activate-returning')!;
    expect(activation).toMatchObject({ matched: 1, succeeded: 1 });
    expect(h.sandbox.findUser(u.login)!.status).toBe('Active');
    const second = await runPending(h.deps);
    expect(second.find((s) => s.workflow === 'qualys-activate-returning')).toBeUndefined();
  });

  it('a workflow added once the outbox is in use handles events from then on, not the history', async () => {
    const late = 'version: 1\nname: late-titles\nobject: users\ntrigger: { on: [created, updated] }\nrules: { field: title, equals: Manager }\nsteps: [{ id: s, preset: qualys.activate_user, credentials: qualys, params: { login: "{{qualys_login}}" } }]\n';
    h = await harness({ extra: { 'late-titles.yaml': late } });
    const without = { ...h.deps, project: { ...h.project, workflows: h.project.workflows.filter((w) => w.def?.name !== 'late-titles') } };
    // An empty outbox at the first consumption still counts: the workflows there start at 0.
    await runPending(without);
    await h.store.upsertMany('users', [person('old.boss', { title: 'Manager', status: 'Leaver' })]);
    await runPending(without);
    // late-titles appears now: old.boss's event happened before it existed.
    expect((await runPending(h.deps)).find((s) => s.workflow === 'late-titles')).toBeUndefined();
    await h.store.upsertMany('users', [person('new.boss', { title: 'Manager', status: 'Leaver' })]);
    const after = (await runPending(h.deps)).filter((s) => s.workflow === 'late-titles');
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ matched: 1 });
    expect((await h.store.getRun(after[0]!.runId))!.records.map((r) => r.key)).toEqual(['new.boss']);
  });

  it('a failed step\'s outputs (its error message) are not results for a later step', async () => {
    const chain = `version: 1
name: chain
object: users
trigger: { on: [manual] }
steps:
  - id: first
    preset: qualys.edit_user
    credentials: qualys
    params: { login: "{{qualys_login}}x", title: T }
    on_error: continue
  - id: second
    preset: qualys.deactivate_user
    credentials: qualys
    params: { login: "{{qualys_login}}" }
    response: { title: "after[{{steps.first.outputs.message}}]" }
`;
    h = await harness({ extra: { 'chain.yaml': chain } });
    const u = h.sandbox.addUser({ role: 'scanner', first_name: 'C', last_name: 'H', email: 'ch@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('c.h', { qualys_login: u.login })]);
    const s = await runWorkflow(h.deps, h.workflow('chain'), { trigger: 'manual' });
    expect(s.steps).toMatchObject({ first: { failed: 1 }, second: { succeeded: 1 } });
    expect((await h.store.getRecord('users', 'c.h'))!.fields.title).toBe('after[]');
  });

  it('changes a password and keeps it only in the sensitive field', async () => {
    h = await harness();
    const u = h.sandbox.addUser({ role: 'scanner', first_name: 'Pat', last_name: 'Word', email: 'pw@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('pat.word', { qualys_login: u.login })]);
    const s = await runWorkflow(h.deps, h.workflow('qualys-change-password'), { trigger: 'manual', keys: ['pat.word'] });
    expect(s).toMatchObject({ succeeded: 1 });
    const rec = (await h.store.getRecord('users', 'pat.word'))!.fields;
    expect(rec.qualys_password).toBe(h.sandbox.findUser(u.login)!.password);
    expect(String(rec.api_response)).not.toContain(String(rec.qualys_password));
    expect(JSON.stringify(await h.store.getRun(s.runId))).not.toContain(String(rec.qualys_password));
  });

  it('refuses at run time a mapping that would put a secret into a field not marked sensitive', async () => {
    h = await harness();
    const u = h.sandbox.addUser({ role: 'scanner', first_name: 'Pat', last_name: 'Word', email: 'pw@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('pat.word', { qualys_login: u.login })]);
    // validate refuses this mapping; the engine must hold even for a workflow that was not validated.
    const wf = h.workflow('qualys-change-password');
    const leaky = { ...wf, steps: [{ ...wf.steps![0]!, response: { title: "x{{lookup outputs 'password'}}" } }] } as typeof wf;
    const s = await runWorkflow(h.deps, leaky, { trigger: 'manual', keys: ['pat.word'] });
    expect(s.failed).toBe(1);
    expect(s.failures[0]!.error).toMatch(/field "title" would receive a secret output/);
    const password = h.sandbox.findUser(u.login)!.password!;
    expect((await h.store.getRecord('users', 'pat.word'))!.fields.title).toBe('Engineer');
    expect(JSON.stringify(await h.store.getRun(s.runId))).not.toContain(password);
  });

  it('a secret output sent by a later step (refused by validate) is still masked in run history', async () => {
    h = await harness();
    const u = h.sandbox.addUser({ role: 'scanner', first_name: 'Sec', last_name: 'Ret', email: 'sr@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('sec.ret', { qualys_login: u.login })]);
    const wf = h.workflow('qualys-change-password');
    const edit = { id: 'edit', preset: 'qualys.edit_user', credentials: 'qualys', params: { login: '{{qualys_login}}', title: 'pw {{steps.' + wf.steps![0]!.id + '.outputs.password}}' } };
    // No mapping keeps the password in a sensitive field, which would mask it on its own.
    const leaky = { ...wf, steps: [{ ...wf.steps![0]!, response: undefined }, edit] } as typeof wf;
    const s = await runWorkflow(h.deps, leaky, { trigger: 'manual', keys: ['sec.ret'] });
    expect(s, JSON.stringify(s)).toMatchObject({ succeeded: 1 });
    const password = h.sandbox.findUser(u.login)!.password!;
    const run = await h.store.getRun(s.runId);
    expect(JSON.stringify(run)).not.toContain(password);
    expect(run!.records[0]!.steps.find((x) => x.step_id === 'edit')!.request).toMatchObject({ params: { title: 'pw ********' } });
  });
});

describe('named records', () => {
  it('a key that does not exist is a failed record in the run history too', async () => {
    h = await harness();
    const u = h.sandbox.addUser({ role: 'scanner', first_name: 'N', last_name: 'R', email: 'nr@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('n.r', { status: 'Leaver', qualys_login: u.login, qualys_status: 'Active' })]);
    const s = await runWorkflow(h.deps, h.workflow('qualys-deactivate-leavers'), { trigger: 'manual', keys: ['n.r', 'no.such'] });
    expect(s).toMatchObject({ succeeded: 1, failed: 1, status: 'partial' });
    const run = await h.store.getRun(s.runId);
    expect(run!.records.map((r) => [r.key, r.status, r.error]).sort()).toEqual([
      ['n.r', 'succeeded', null],
      ['no.such', 'failed', 'no users record with key "no.such"'],
    ]);
  });
});

describe('plan', () => {
  it('shows later steps the fields earlier steps map (as placeholders), and a skipped step\'s outputs as ""', async () => {
    const chain = [
      'version: 1', 'name: chain', 'object: users', 'trigger: { on: [manual] }', 'steps:',
      '  - id: create', '    preset: qualys.create_user', '    credentials: qualys',
      '    params: { user_role: scanner, business_unit: Unassigned, first_name: "{{first_name}}", last_name: "{{last_name}}", title: T, phone: "1", email: "{{email}}", address1: A, city: C, country: "United States of America", state: "New York", zip_code: "10004", send_email: false }',
      '    response: { qualys_login: "{{outputs.login}}", qualys_status: Pending Activation }',
      '  - id: skipped', '    when: { field: status, equals: Nobody }', '    preset: qualys.activate_user', '    credentials: qualys', '    params: { login: "{{qualys_login}}" }',
      '  - id: edit', '    when: { field: qualys_status, equals: Pending Activation }', '    preset: qualys.edit_user', '    credentials: qualys',
      '    params: { login: "{{qualys_login}}", title: "x{{steps.skipped.outputs.message}}y", external_id: "{{steps.create.outputs.login}}-ext" }', '',
    ].join('\n');
    h = await harness({ extra: { 'chain.yaml': chain } });
    await h.store.upsertMany('users', [person('ada.lovelace')]);
    const plan = await planWorkflow(h.project, h.store, h.workflow('chain'));
    const [create, skipped, edit] = plan.records[0]!.steps;
    expect(create!.error).toBeUndefined();
    expect(skipped!.skipped).toBeDefined();
    expect(edit!.error).toBeUndefined();
    expect(edit!.request!.params).toMatchObject({ login: '<create.login>', title: 'xy', external_id: '<create.login>-ext' });
    // The run agrees: the edit goes out with the login the create returned.
    const s = await runWorkflow(h.deps, h.workflow('chain'), { trigger: 'manual' });
    expect(s, JSON.stringify(s)).toMatchObject({ succeeded: 1 });
    const login = String((await h.store.getRecord('users', 'ada.lovelace'))!.fields.qualys_login);
    expect(h.sandbox.findUser(login)).toMatchObject({ external_id: `${login}-ext`, title: 'xy' });
  });

  it('shows the rendered requests with secrets redacted and sends nothing', async () => {
    h = await harness();
    await h.store.upsertMany('users', [person('ada.lovelace'), person('old.timer', { status: 'Inactive' })]);
    const plan = await planWorkflow(h.project, h.store, h.workflow('qualys-create-user'));
    expect(plan).toMatchObject({ considered: 2, matched: 1 });
    const req = plan.records[0]!.steps[0]!.request!;
    expect(req.method).toBe('POST');
    expect(req.url).toMatch(/\/msp\/user\.php\?action=add$/);
    expect(req.params).toMatchObject({ first_name: 'Ada', email: 'ada.lovelace@corp.test', send_email: '0', user_role: 'scanner' });
    expect(JSON.stringify(plan)).not.toMatch(/authorization|sandbox-password/i);
    expect(h.sandbox.stats().requests).toBe(0);
  });

  it('masks a sensitive field wherever a template put it: plan, run history and errors; the vendor gets the value', async () => {
    const wf = (name: string, params: string) =>
      [`version: 1`, `name: ${name}`, `object: users`, `trigger: { on: [manual] }`, `steps:`, `  - id: e`, `    preset: qualys.edit_user`,
        `    credentials: qualys`, `    params: ${params}`, ''].join('\n');
    h = await harness({
      extra: {
        'leak.yaml': wf('leak', '{ login: "{{qualys_login}}", title: "pw {{qualys_password}}" }'),
        'leak-bad.yaml': [`version: 1`, `name: leak-bad`, `object: users`, `trigger: { on: [manual] }`, `steps:`, `  - id: e`,
          `    request: { method: GET, url: "{{vars.qualys_api_url}}/nope?x={{qualys_password}}" }`, ''].join('\n'),
      },
    });
    const u = h.sandbox.addUser({ role: 'scanner', first_name: 'Pat', last_name: 'Word', email: 'pw@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('pat.word', { qualys_login: u.login, qualys_password: 'Top Secret&1' })]);
    const plan = await planWorkflow(h.project, h.store, h.workflow('leak'));
    expect(plan.records[0]!.steps[0]!.request!.params.title).toBe('pw ********');
    expect(JSON.stringify(plan)).not.toMatch(/Top|Secret/);
    const s = await runWorkflow(h.deps, h.workflow('leak'), { trigger: 'manual' });
    expect(s, JSON.stringify(s)).toMatchObject({ succeeded: 1 });
    expect(h.sandbox.findUser(u.login)!.title).toBe('pw Top Secret&1');
    expect(JSON.stringify(await h.store.getRun(s.runId))).not.toMatch(/Top|Secret/);
    // A failed call names its URL in the error, here with the value in its query: masked there too.
    const bad = await runWorkflow(h.deps, h.workflow('leak-bad'), { trigger: 'manual' });
    expect(bad.failed).toBe(1);
    expect(bad.failures[0]!.error).toMatch(/HTTP 404/);
    expect((await h.store.getRun(bad.runId))!.records[0]!.steps[0]!.request).toMatchObject({ url: expect.stringMatching(/nope\?x=\*{8}$/) });
    expect(JSON.stringify(await h.store.getRun(bad.runId))).not.toMatch(/Top|Secret/);
  });

  it('folds the double slash of a base URL given with a trailing slash (strict servers answer 404)', async () => {
    h = await harness();
    const base = `${String(h.project.config.variables!.qualys_api_url)}/`;
    h.project.config = { ...h.project.config, variables: { ...h.project.config.variables, qualys_api_url: base } };
    const u = h.sandbox.addUser({ role: 'scanner', first_name: 'T', last_name: 'S', email: 'ts@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('t.s', { status: 'Leaver', qualys_login: u.login, qualys_status: 'Active' })]);
    const plan = await planWorkflow(h.project, h.store, h.workflow('qualys-deactivate-leavers'));
    expect(plan.records[0]!.steps[0]!.request!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/msp\/user\.php\?action=deactivate$/);
    expect((await runWorkflow(h.deps, h.workflow('qualys-deactivate-leavers'), { trigger: 'manual' })).succeeded).toBe(1);
  });

  it('masks a password in the base URL (user info, sent as Basic auth) in plans, run history and URL errors', async () => {
    h = await harness();
    const base = String(h.project.config.variables!.qualys_api_url).replace('//', '//sandbox_mgr:UrlSecret9@');
    h.project.config = { ...h.project.config, variables: { ...h.project.config.variables, qualys_api_url: base } };
    const u = h.sandbox.addUser({ role: 'scanner', first_name: 'U', last_name: 'I', email: 'ui@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('u.i', { status: 'Leaver', qualys_login: u.login, qualys_status: 'Active' })]);
    const plan = await planWorkflow(h.project, h.store, h.workflow('qualys-deactivate-leavers'));
    expect(plan.records[0]!.steps[0]!.request!.url).toMatch(/^http:\/\/sandbox_mgr:\*\*\*@127\.0\.0\.1:\d+\/msp\/user\.php\?action=deactivate$/);
    const s = await runWorkflow(h.deps, h.workflow('qualys-deactivate-leavers'), { trigger: 'manual' });
    expect(s.succeeded).toBe(1);
    const run = JSON.stringify(await h.store.getRun(s.runId));
    expect(run).toContain('sandbox_mgr:***@');
    expect(run).not.toContain('UrlSecret9');
    // Not an absolute URL: the error quotes it with the password hidden.
    await h.store.upsertMany('users', [person('u.j', { status: 'Leaver', qualys_login: u.login, qualys_status: 'Active' })]);
    h.project.config = { ...h.project.config, variables: { ...h.project.config.variables, qualys_api_url: 'qualys//sandbox_mgr:UrlSecret9@host' } };
    const bad = await runWorkflow(h.deps, h.workflow('qualys-deactivate-leavers'), { trigger: 'manual' });
    expect(bad.failures[0]!.error).toMatch(/not an absolute URL; check vars\.qualys_api_url in skein\.yaml \(or --var\) \[request-url\]$/);
    expect(JSON.stringify(bad)).not.toContain('UrlSecret9');
    // Without its scheme, user:password@host is still masked in the error.
    h.project.config = { ...h.project.config, variables: { ...h.project.config.variables, qualys_api_url: 'sandbox_mgr:UrlSecret9@127.0.0.1:1' } };
    const schemeless = await runWorkflow(h.deps, h.workflow('qualys-deactivate-leavers'), { trigger: 'manual' });
    expect(schemeless.failures[0]!.error).toMatch(/sandbox_mgr:\*\*\*@/);
    expect(JSON.stringify(schemeless)).not.toContain('UrlSecret9');
    // A user name alone (often a token) is hidden whole.
    h.project.config = { ...h.project.config, variables: { ...h.project.config.variables, qualys_api_url: base.replace('sandbox_mgr:UrlSecret9@', 'TokenSecret7@') } };
    const tokenPlan = await planWorkflow(h.project, h.store, h.workflow('qualys-deactivate-leavers'));
    expect(tokenPlan.records[0]!.steps[0]!.request!.url).toMatch(/^http:\/\/\*\*\*@127\.0\.0\.1:\d+\//);
  });
});

describe('faults', () => {
  it('retries an idempotent call through 500s and dropped connections', async () => {
    h = await harness({ sandbox: { faults: '500:every=2' } });
    const u = h.sandbox.addUser({ role: 'scanner', first_name: 'A', last_name: 'B', email: 'ab@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('a.b', { status: 'Leaver', qualys_login: u.login, qualys_status: 'Active' })]);
    const s = await runWorkflow(h.deps, h.workflow('qualys-deactivate-leavers'), { trigger: 'manual' });
    expect(s.succeeded).toBe(1);
    expect(h.sandbox.findUser(u.login)!.status).toBe('Inactive');
  });

  it('never re-sends create_user after a 500, and reports it in doubt (Qualys may have applied it)', async () => {
    h = await harness({ sandbox: { faults: '500:1' } });
    await h.store.upsertMany('users', [person('ada.lovelace')]);
    const s = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
    expect(s.failed).toBe(1);
    expect(h.sandbox.stats().requests).toBe(1);
    const run = await h.store.getRun(s.runId);
    expect(run!.records[0]!.steps[0]).toMatchObject({ status: 'unknown', attempts: 1, http_status: 500 });
    expect(run!.records[0]!.steps[0]!.error).toMatch(/^outcome unknown: Qualys answered HTTP 500 \(Qualys 999: Internal Error\)/);
  });

  it('marks create_user unknown when the connection drops after Qualys applied it', async () => {
    h = await harness({ sandbox: { faults: 'drop:phase=after:times=1' } });
    await h.store.upsertMany('users', [person('ada.lovelace')]);
    const s = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
    expect(s.steps.create).toMatchObject({ unknown: 1, succeeded: 0 });
    expect(h.sandbox.users().filter((u) => u.email === 'ada.lovelace@corp.test')).toHaveLength(1);
    expect(h.sandbox.stats().requests).toBe(1);
    const run = await h.store.getRun(s.runId);
    expect(run!.records[0]!.steps[0]).toMatchObject({ status: 'unknown' });
  });

  it('reports malformed XML as an unreadable answer', async () => {
    h = await harness({ sandbox: { faults: 'malformed:1' } });
    const u = h.sandbox.addUser({ role: 'scanner', first_name: 'A', last_name: 'B', email: 'ab@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('a.b', { status: 'Leaver', qualys_login: u.login, qualys_status: 'Active' })]);
    const s = await runWorkflow(h.deps, h.workflow('qualys-deactivate-leavers'), { trigger: 'manual' });
    expect(s.failed).toBe(1);
    expect(s.failures[0]!.error).toMatch(/unreadable answer|malformed XML/);
    expect((await h.store.getRecord('users', 'a.b'))!.fields.qualys_status).toBe('Active');
  });

  it('waits out a 409 rate block and then succeeds, also for create_user', async () => {
    h = await harness({ sandbox: { limits: { rate: { calls: 1, windowSec: 1 } } } });
    await h.store.upsertMany('users', [person('one.user'), person('two.user')]);
    const s = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
    expect(s).toMatchObject({ succeeded: 2, failed: 0 });
    expect(h.sandbox.users().filter((u) => u.email.endsWith('@corp.test'))).toHaveLength(2);
  });

  it('spends the last of a rate budget, then ends the next run at once, each record failed "retry later"', async () => {
    h = await harness({ sandbox: { limits: { rate: { calls: 2, windowSec: 3600 } } } });
    await h.store.upsertMany('users', [person('new.user0'), person('new.user1')]);
    // The first answer says 1 call is left in the hour: it is sent, not spread over the hour.
    const first = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
    expect(first).toMatchObject({ matched: 2, succeeded: 2 });
    await h.store.upsertMany('users', Array.from({ length: 4 }, (_, i) => person(`late.user${i}`)));
    // A new process (a fresh client and limiter) meets the spent budget: one 409 asks to wait
    // about an hour, and every record fails at once instead of the run waiting for it.
    h.deps = { ...h.deps, http: new HttpClient({ retry: { backoffMs: 10, maxBackoffMs: 50 } }) };
    const t0 = Date.now();
    const s = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
    await h.deps.http.close();
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(s).toMatchObject({ matched: 4, succeeded: 0, failed: 4, status: 'failed' });
    for (const f of s.failures) expect(f.error).toMatch(/retry (later|after \d+ s)/);
    // A limit block guarantees the call did not run: plain failures, nothing in doubt.
    expect(s.steps.create).toMatchObject({ failed: 4, unknown: 0 });
    expect(h.sandbox.users().filter((u) => u.email.endsWith('@corp.test'))).toHaveLength(2);
    expect(h.sandbox.stats().byScript['user.php']).toMatchObject({ requests: 3, blocked409: 1 });
  });
});

describe('import', () => {
  it('imports a user list larger than the default 5 MiB answer cap (list_users allows 128 MiB)', async () => {
    h = await harness({ sandbox: { users: 3500 } });
    const s = await runWorkflow(h.deps, h.workflow('qualys-import-users'), { trigger: 'manual' });
    const run = await h.store.getRun(s.runId);
    expect(s.import, JSON.stringify(run?.records[0]?.steps[0]?.error ?? s.failures[0])).toMatchObject({ listed: h.sandbox.users().length, rejected: 0 });
    expect(h.sandbox.users().length).toBeGreaterThan(3500);
    expect(await h.store.countRecords('users')).toBe(h.sandbox.users().length);
  });

  const addQualysUser = (login: string, email: string, last = 'User') =>
    h.sandbox.addUser({ login, role: 'scanner', first_name: 'Q', last_name: last, email, status: 'Active' });
  const importUsers = () => runWorkflow(h.deps, h.workflow('qualys-import-users'), { trigger: 'manual' });

  it('a failed list call keeps its error code in history and in the summary', async () => {
    h = await harness({ sandbox: { users: 0, faults: 'malformed:script=user_list' } });
    const s = await importUsers();
    expect(s.status).toBe('failed');
    expect(s.failures[0]!.error).toMatch(/\[response-unreadable\]$/);
    expect((await h.store.getRun(s.runId))!.records[0]!.steps[0]).toMatchObject({ status: 'failed', error_code: 'response-unreadable' });
  });

  it('keeps a field whose element the list leaves out (a restricted view), and clears one that is listed empty', async () => {
    h = await harness({ sandbox: { users: 0 } });
    await h.store.upsertMany('users', [person('jdoe', { qualys_login: 'acme_jd', email: 'jd@example.com', title: 'Engineer', qualys_last_login: '2024-01-02' })]);
    // The reference's list shape; this user has no USER_LOGIN, USER_ID or LAST_LOGIN_DATE (§9),
    // and an empty TITLE.
    const peer = await startServer((_hit, _req, res) =>
      res.end(`<?xml version="1.0" encoding="UTF-8" ?>
<USER_LIST_OUTPUT><USER_LIST><USER><CONTACT_INFO><FIRSTNAME><![CDATA[Jane]]></FIRSTNAME><LASTNAME><![CDATA[Doe]]></LASTNAME><TITLE></TITLE><EMAIL><![CDATA[jd@example.com]]></EMAIL></CONTACT_INFO><USER_STATUS>Active</USER_STATUS><USER_ROLE>Scanner</USER_ROLE></USER></USER_LIST></USER_LIST_OUTPUT>`),
    );
    try {
      h.project.config = { ...h.project.config, variables: { ...h.project.config.variables, qualys_api_url: peer.url } };
      const s = await importUsers();
      expect(s.import).toMatchObject({ listed: 1, updated: 1, created: 0, rejected: 0, vanished: 0 });
      const jdoe = (await h.store.getRecord('users', 'jdoe'))!.fields;
      expect(jdoe).toMatchObject({ qualys_login: 'acme_jd', qualys_last_login: '2024-01-02', first_name: 'Jane', qualys_status: 'Active' });
      expect(jdoe.title ?? '').toBe('');
    } finally {
      await peer.close();
    }
  });

  it('never hands a record linked to one listed user to another whose email it still holds', async () => {
    h = await harness({ sandbox: { users: 0 } });
    await h.store.upsertMany('users', [person('jdoe', { qualys_login: 'acme_x', email: 'a@example.com', department: 'HR-data' })]);
    // acme_x changed its email to b@; acme_y now has a@, the email jdoe still holds.
    addQualysUser('acme_x', 'b@example.com', 'Xavier');
    addQualysUser('acme_y', 'a@example.com', 'Yvonne');
    const first = await importUsers();
    expect(first.import).toMatchObject({ rejected: 0, vanished: 0 });
    const jdoe = (await h.store.getRecord('users', 'jdoe'))!.fields;
    expect(jdoe).toMatchObject({ qualys_login: 'acme_x', email: 'b@example.com', last_name: 'Xavier', department: 'HR-data' });
    expect((await h.store.getRecord('users', 'a@example.com'))!.fields).toMatchObject({ qualys_login: 'acme_y', last_name: 'Yvonne' });
    const events = await h.store.readEvents({ limit: 100 });
    expect(events.filter((e) => e.key === 'jdoe' && e.source === 'workflow:qualys-import-users')).toHaveLength(1);
    const second = await importUsers();
    expect(second.import).toMatchObject({ created: 0, rejected: 0, vanished: 0 });
  });

  it('rejects an item whose key is a record linked to another listed user, and leaves that record alone', async () => {
    h = await harness({ sandbox: { users: 0 } });
    await h.store.upsertMany('users', [person('x@example.com', { qualys_login: 'acme_1', email: 'other@example.com' })]);
    // acme_2 is listed first: when it comes, nothing in this run has matched the record yet.
    addQualysUser('acme_2', 'x@example.com');
    addQualysUser('acme_1', 'other@example.com');
    const s = await importUsers();
    expect(s.status).toBe('partial');
    expect(s.import).toMatchObject({ rejected: 1 });
    expect(s.failures).toContainEqual(expect.objectContaining({ key: 'x@example.com', error: 'record "x@example.com" is linked to qualys_login "acme_1", which is listed too' }));
    expect((await h.store.getRecord('users', 'x@example.com'))!.fields).toMatchObject({ qualys_login: 'acme_1', email: 'other@example.com' });
  });

  it('two Qualys users with one email: the second is rejected, and runs after that change nothing', async () => {
    h = await harness({ sandbox: { users: 0 } });
    addQualysUser('acme_c1', 'chris@example.com');
    addQualysUser('acme_c2', 'chris@example.com');
    const first = await importUsers();
    expect(first.import).toMatchObject({ rejected: 1 });
    expect(first.failures).toContainEqual(expect.objectContaining({ key: 'chris@example.com', error: 'key "chris@example.com" is already the record of qualys_login "acme_c1" in this run' }));
    expect((await h.store.getRecord('users', 'chris@example.com'))!.fields.qualys_login).toBe('acme_c1');
    const lastEvent = await h.store.lastEventId();
    for (let i = 0; i < 2; i++) {
      const again = await importUsers();
      expect(again.import).toMatchObject({ created: 0, rejected: 1, vanished: 0 });
    }
    const flips = (await h.store.readEvents({ afterId: lastEvent, limit: 100 })).filter((e) => e.key === 'chris@example.com');
    expect(flips).toEqual([]);
  });

  it('rejects an item whose email fits several unlinked records, rather than pick one by key order', async () => {
    h = await harness({ sandbox: { users: 0 } });
    await h.store.upsertMany('users', [
      person('bob', { email: 'DUP@example.com' }),
      person('carl', { email: 'dup@example.com' }),
    ]);
    addQualysUser('acme_a1', 'Dup@Example.com');
    const s = await importUsers();
    expect(s.failures).toContainEqual(expect.objectContaining({ error: expect.stringMatching(/^email "Dup@Example\.com" fits 2 records \("bob", "carl"\); make it unique, or link one of them by qualys_login$/) }));
    for (const key of ['bob', 'carl']) expect((await h.store.getRecord('users', key))!.fields.qualys_login).toBeUndefined();
    // Linking one by hand settles it.
    await h.store.setFields('users', 'carl', { qualys_login: 'acme_a1' });
    expect((await importUsers()).import).toMatchObject({ rejected: 0 });
  });

  it('creates records from Qualys users, then finds them unchanged, and flags vanished ones', async () => {
    h = await harness({ sandbox: { users: 5 } });
    await h.store.upsertMany('users', [person('gone.user', { qualys_login: 'quays_gone1', qualys_status: 'Active' })]);
    const first = await runWorkflow(h.deps, h.workflow('qualys-import-users'), { trigger: 'manual' });
    const listed = h.sandbox.users().length;
    expect(first.import).toMatchObject({ listed, created: listed, vanished: 1, rejected: 0 });
    for (const u of h.sandbox.users()) {
      const [rec] = await h.store.listRecords('users', { where: { qualys_login: u.login } });
      expect(rec?.fields.email).toBe(u.email);
    }
    expect((await h.store.getRecord('users', 'gone.user'))!.fields.qualys_status).toBe('Vanished');
    const lastEvent = await h.store.lastEventId();
    const second = await runWorkflow(h.deps, h.workflow('qualys-import-users'), { trigger: 'manual' });
    expect(second.import).toMatchObject({ listed, created: 0, vanished: 0, rejected: 0 });
    // Nothing changed in Qualys, except that the calling API account's own last login moves with
    // each call (when the second call lands in a later second): at most that one update.
    const changes = (await h.store.readEvents({ afterId: lastEvent, limit: 100 })).filter((e) => e.source === 'workflow:qualys-import-users');
    expect(changes.length).toBe(second.import!.updated);
    expect(second.import!.unchanged + second.import!.updated).toBe(listed);
    for (const e of changes) {
      expect(e.after!.qualys_login).toBe('sandbox_mgr');
      expect(e.changed).toEqual(['qualys_last_login']);
    }
  });
});
