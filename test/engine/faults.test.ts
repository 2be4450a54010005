// Bad answers and slow peers: 409 without ToWait-Sec, step timeouts, huge bodies, XML entity
// bombs, and deleted-record events.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readResponse } from '../../src/engine/response.js';
import { runPending } from '../../src/engine/pending.js';
import { runWorkflow } from '../../src/engine/run.js';
import { getPreset } from '../../src/presets/registry.js';
import { harness, person, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const slowDeactivate = `version: 1
name: slow-deactivate
object: users
trigger: { on: [manual, deleted] }
rules: { field: qualys_login, is_not_empty: true }
steps:
  - id: deactivate
    preset: qualys.deactivate_user
    credentials: qualys
    timeout: 300ms
    retry: { attempts: 2, backoff: 10ms }
    params: { login: "{{qualys_login}}" }
`;

describe('limits and timeouts', () => {
  it('waits out 409 blocks that carry no ToWait-Sec header, using backoff', async () => {
    h = await harness({ sandbox: { limits: { rate: { calls: 1, windowSec: 1 }, toWaitHeader: 'omit-on-block' } } });
    const a = h.sandbox.addUser({ role: 'scanner', first_name: 'A', last_name: 'A', email: 'a@corp.test', status: 'Active' });
    const b = h.sandbox.addUser({ role: 'scanner', first_name: 'B', last_name: 'B', email: 'b@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [
      person('a.a', { status: 'Leaver', qualys_login: a.login, qualys_status: 'Active' }),
      person('b.b', { status: 'Leaver', qualys_login: b.login, qualys_status: 'Active' }),
    ]);
    h.deps.http = new (h.http.constructor as typeof import('../../src/http/index.js').HttpClient)({ retry: { backoffMs: 400, maxBackoffMs: 1500, attempts: 8 } });
    try {
      const s = await runWorkflow(h.deps, h.workflow('qualys-deactivate-leavers'), { trigger: 'manual' });
      expect(s).toMatchObject({ succeeded: 2, failed: 0 });
      expect(h.sandbox.findUser(a.login)!.status).toBe('Inactive');
      expect(h.sandbox.findUser(b.login)!.status).toBe('Inactive');
    } finally {
      await h.deps.http.close();
    }
  });

  it('fails a step whose answer takes longer than its timeout, after its retries', async () => {
    h = await harness({ sandbox: { latencyMs: 1500 }, extra: { 'slow.yaml': slowDeactivate } });
    const u = h.sandbox.addUser({ role: 'scanner', first_name: 'S', last_name: 'L', email: 's@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('s.l', { qualys_login: u.login })]);
    const s = await runWorkflow(h.deps, h.workflow('slow-deactivate'), { trigger: 'manual' });
    expect(s.failed).toBe(1);
    expect(s.failures[0]!.error).toMatch(/timed? ?out|timeout/i);
    const run = await h.store.getRun(s.runId);
    expect(run!.records[0]!.steps[0]).toMatchObject({ status: 'failed', attempts: 2 });
  });
});

describe('hostile answers', () => {
  it('refuses a huge body without reading it all', async () => {
    h = await harness({ sandbox: { faults: 'huge:bytes=8000000' } });
    const u = h.sandbox.addUser({ role: 'scanner', first_name: 'H', last_name: 'U', email: 'h@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('h.u', { status: 'Leaver', qualys_login: u.login, qualys_status: 'Active' })]);
    const s = await runWorkflow(h.deps, h.workflow('qualys-deactivate-leavers'), { trigger: 'manual' });
    expect(s.failed).toBe(1);
    expect(s.failures[0]!.error).toMatch(/response body exceeds 5242880 bytes/);
    expect((await h.store.getRecord('users', 'h.u'))!.fields.qualys_status).toBe('Active');
  });

  it('reads a user list answered with RETURN status="FAILED" as a failure, never as an empty list', () => {
    const list = getPreset('qualys.list_users')!.request;
    const failed = '<?xml version="1.0" encoding="UTF-8" ?>\n<USER_LIST_OUTPUT>\n  <RETURN status="FAILED" number="2012">\n    <MESSAGE><![CDATA[Access denied]]></MESSAGE>\n  </RETURN>\n</USER_LIST_OUTPUT>\n';
    expect(readResponse(list, 200, failed)).toMatchObject({ ok: false, code: '2012', message: 'Access denied' });
    const empty = '<?xml version="1.0" encoding="UTF-8" ?>\n<USER_LIST_OUTPUT><USER_LIST/></USER_LIST_OUTPUT>\n';
    expect(readResponse(list, 200, empty).ok).toBe(true);
    const withReturn = '<USER_LIST_OUTPUT><RETURN status="SUCCESS"/><USER_LIST><USER><USER_LOGIN>a</USER_LOGIN></USER></USER_LIST></USER_LIST_OUTPUT>';
    expect(readResponse(list, 200, withReturn).ok).toBe(true);
  });

  it('reads an XML answer that starts with whitespace before its declaration', () => {
    const body = '\r\n  <?xml version="1.0" encoding="UTF-8" ?>\n<USER_OUTPUT><RETURN status="SUCCESS"><MESSAGE>done</MESSAGE></RETURN></USER_OUTPUT>';
    expect(readResponse(getPreset('qualys.activate_user')!.request, 200, body)).toMatchObject({ ok: true, outputs: { message: 'done' } });
  });

  it('does not expand an XML entity bomb', () => {
    const lol = '<!ENTITY a "aaaaaaaaaa">' + Array.from({ length: 8 }, (_, i) => `<!ENTITY ${'b'.repeat(i + 1)} "${`&${i ? 'b'.repeat(i) : 'a'};`.repeat(10)}">`).join('');
    const body = `<?xml version="1.0"?><!DOCTYPE USER_OUTPUT [${lol}]><USER_OUTPUT><RETURN status="SUCCESS"><MESSAGE>&bbbbbbbb;</MESSAGE></RETURN></USER_OUTPUT>`;
    const r = readResponse(getPreset('qualys.activate_user')!.request, 200, body);
    // Refused as unreadable: never expanded, and never read as a success with "&bbbbbbbb;" as a value.
    expect(r).toMatchObject({ ok: false, parseError: expect.stringMatching(/declares its own DTD entities .* refused/) });
    expect(r.outputs.message).toBeUndefined();
    expect(r.text.length).toBeLessThan(2000);
    // Without a DTD, a reference to an entity XML does not define is an error too.
    const undefinedEntity = readResponse(getPreset('qualys.create_user')!.request, 200, '<USER_OUTPUT><RETURN status="SUCCESS"><MESSAGE>ok</MESSAGE></RETURN><USER><USER_LOGIN>&lol9;</USER_LOGIN></USER></USER_OUTPUT>');
    expect(undefinedEntity).toMatchObject({ ok: false, parseError: expect.stringMatching(/undefined entity &lol9;/) });
  });
});

describe('deleted records', () => {
  it('runs a workflow triggered by deleted over the record\'s last values', async () => {
    h = await harness({ extra: { 'slow.yaml': slowDeactivate } });
    const u = h.sandbox.addUser({ role: 'scanner', first_name: 'D', last_name: 'E', email: 'd@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('d.e', { qualys_login: u.login })]);
    await runPending(h.deps); // the created event
    await h.store.deleteRecord('users', 'd.e');
    const runs = await runPending(h.deps);
    expect(runs.find((r) => r.workflow === 'slow-deactivate')).toMatchObject({ matched: 1, succeeded: 1 });
    expect(h.sandbox.findUser(u.login)!.status).toBe('Inactive');
  });
});

describe('response mappings the store refuses', () => {
  it('records the step as failed with the reason, keeps the record unchanged, and goes on', async () => {
    h = await harness({
      extra: {
        'bad-map.yaml': `version: 1
name: bad-map
object: users
trigger: { on: [manual] }
rules: { field: qualys_login, is_not_empty: true }
steps:
  - id: deactivate
    preset: qualys.deactivate_user
    credentials: qualys
    params: { login: "{{qualys_login}}" }
    response:
      qualys_status: Inactive
      start_date: "{{outputs.message}}"
`,
      },
    });
    const a = h.sandbox.addUser({ role: 'scanner', first_name: 'M', last_name: 'A', email: 'ma@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('m.a', { qualys_login: a.login, qualys_status: 'Active' })]);
    const s = await runWorkflow(h.deps, h.workflow('bad-map'), { trigger: 'manual' });
    expect(s).toMatchObject({ matched: 1, succeeded: 0, failed: 1 });
    expect(s.steps.deactivate).toMatchObject({ succeeded: 0, failed: 1 });
    expect(s.failures[0]!.error).toMatch(/response mapping not applied: .*start_date/);
    // Qualys did deactivate; the mapping (both fields, atomically) did not land.
    expect(h.sandbox.findUser(a.login)!.status).toBe('Inactive');
    expect((await h.store.getRecord('users', 'm.a'))!.fields.qualys_status).toBe('Active');
    const run = await h.store.getRun(s.runId);
    expect(run!.records[0]).toMatchObject({ status: 'failed' });
    expect(run!.records[0]!.steps[0]).toMatchObject({ status: 'failed', http_status: 200 });
  });

  it('a refused mapping after a create that took effect leaves it in doubt: the next run looks the user up, never creates a second', async () => {
    // The shipped create-user workflow, with one more mapping the field refuses (no date).
    const shipped = readFileSync(join(import.meta.dirname, '..', '..', 'workflows', 'qualys-create-user.yaml'), 'utf8');
    const badMap = shipped
      .replace('name: qualys-create-user', 'name: bad-create-map')
      .replace('      qualys_login: "{{outputs.login}}"\n', '      qualys_login: "{{outputs.login}}"\n      start_date: "{{outputs.message}}"\n');
    expect(badMap).toContain('start_date:');
    h = await harness({ extra: { 'bad-create-map.yaml': badMap } });
    await h.store.upsertMany('users', [person('c.d')]);
    const before = h.sandbox.users().length;
    const first = await runWorkflow(h.deps, h.workflow('bad-create-map'), { trigger: 'manual' });
    expect(first.steps.create).toMatchObject({ succeeded: 0, failed: 0, unknown: 1 });
    expect(first.failures[0]!.error).toMatch(/response mapping not applied: .*start_date.*; the call took effect, so it is not sent again: the next run looks it up/);
    expect(h.sandbox.users()).toHaveLength(before + 1);
    // The next run reconciles (finds the user by email) and sends nothing.
    await runWorkflow(h.deps, h.workflow('bad-create-map'), { trigger: 'manual' });
    expect(h.sandbox.users()).toHaveLength(before + 1);
  });

  it('a refused error_response mapping keeps the step\'s own failure reason in front', async () => {
    h = await harness({
      extra: {
        'bad-error-map.yaml': `version: 1
name: bad-error-map
object: users
trigger: { on: [manual] }
rules: { field: qualys_login, is_not_empty: true }
steps:
  - id: deactivate
    preset: qualys.deactivate_user
    credentials: qualys
    params: { login: "{{qualys_login}}" }
    error_response:
      start_date: "{{outputs.message}}"
`,
      },
    });
    // No such login: Qualys answers FAILED, and the message is no date.
    await h.store.upsertMany('users', [person('n.o', { qualys_login: 'quays_nobody' })]);
    const s = await runWorkflow(h.deps, h.workflow('bad-error-map'), { trigger: 'manual' });
    expect(s.failed).toBe(1);
    expect(s.failures[0]!.error).toMatch(/FAILED.*; error_response mapping not applied: .*start_date/);
  });
});
