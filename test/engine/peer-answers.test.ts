// Answers that come from something in front of the vendor (a proxy's HTML page, a redirect, a
// timeout after the request left), through the real step code and HTTP client against a local
// server: a call not safe to repeat is never read as a plain vendor failure it could be re-sent
// after, and every error says what happened.
import { afterEach, describe, expect, it } from 'vitest';
import { executeStep } from '../../src/engine/step.js';
import { HttpClient } from '../../src/http/index.js';
import { getPreset } from '../../src/presets/registry.js';
import { startServer, type TestServer } from '../http/server.js';

const servers: TestServer[] = [];
const clients: HttpClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function run(presetId: string, params: Record<string, string | boolean>, handler: Parameters<typeof startServer>[0], timeout?: string) {
  const s = await startServer(handler);
  servers.push(s);
  const http = new HttpClient({ retry: { backoffMs: 5, maxBackoffMs: 10 } });
  clients.push(http);
  const credential = { name: 'qualys', username: 'u', password: 'p', authorization: 'Basic dTpw' };
  return executeStep({ id: 's', preset: presetId, credentials: 'qualys', params, ...(timeout ? { timeout } : {}) }, getPreset(presetId), {}, { http, vars: { qualys_api_url: s.url }, credential });
}

const CREATE = { user_role: 'scanner', business_unit: 'Unassigned', first_name: 'A', last_name: 'B', title: 'T', phone: '1', email: 'a@b.c', address1: 'x', city: 'c', country: 'Germany', send_email: false };

describe('answers from in front of the vendor', () => {
  it('a well-formed HTML page at HTTP 200 is not "Qualys said FAILED": create_user ends unknown, deactivate fails as unreadable', async () => {
    const page = (_h: unknown, _q: unknown, res: import('node:http').ServerResponse) => {
      res.setHeader('content-type', 'text/html');
      res.end('<!DOCTYPE html>\n<html><head><title>Maintenance</title></head><body><p>Down</p></body></html>');
    };
    const create = await run('qualys.create_user', CREATE, page);
    expect(create.outcome).toBe('unknown');
    expect(create.error).toMatch(/could not be read: not an answer of this API: its root element is <html>/);
    const deactivate = await run('qualys.deactivate_user', { login: 'x1' }, page);
    expect(deactivate).toMatchObject({ outcome: 'failed', errorCode: 'response-unreadable' });
    expect(deactivate.error).not.toMatch(/answered FAILED/);
  });

  it('a user list answer without USER_LIST fails the call rather than read as an empty list', async () => {
    for (const body of ['<USER_LIST_OUTPUT>\n</USER_LIST_OUTPUT>', '<USER_LIST_OUTPUT><WARNING><CODE>1</CODE></WARNING></USER_LIST_OUTPUT>']) {
      const r = await run('qualys.list_users', {}, (_h, _q, res) => res.end(body));
      expect(r.outcome, body).toBe('failed');
    }
    const empty = await run('qualys.list_users', {}, (_h, _q, res) => res.end('<USER_LIST_OUTPUT><USER_LIST/></USER_LIST_OUTPUT>'));
    expect(empty.outcome).toBe('succeeded');
  });

  it('a redirect is not followed, and the error says where it pointed', async () => {
    const r = await run('qualys.create_user', CREATE, (_h, _q, res) => {
      res.statusCode = 301;
      res.setHeader('location', 'https://qualysapi.qg2.apps.qualys.com/msp/user.php');
      res.end();
    });
    expect(r).toMatchObject({ outcome: 'failed', errorCode: 'http-redirect' });
    expect(r.error).toMatch(/HTTP 301 \(a redirect to https:\/\/qualysapi\.qg2\.apps\.qualys\.com\/msp\/user\.php\); redirects are not followed/);
  });

  it('a call in doubt names the transport code (a timeout after the request left)', async () => {
    const r = await run('qualys.create_user', CREATE, () => undefined, '300ms');
    expect(r.outcome).toBe('unknown');
    expect(r.error).toMatch(/^outcome unknown: the call timed out after the request was sent \(SKEIN_ATTEMPT_TIMEOUT\), and POST user\.php is not safe to repeat/);
  });

  it('Qualys 1981 ("being processed") leaves a create in doubt, at HTTP 200, 202 or 409 without limit headers; an idempotent call just fails', async () => {
    const processing = (status: number) => (_h: unknown, _q: unknown, res: import('node:http').ServerResponse) => {
      res.statusCode = status;
      res.end('<GENERIC_RETURN><API name="user.php" username="u" at="2024-01-01T00:00:00Z" /><RETURN status="FAILED" number="1981">Your request is being processed. Please try this same request again later</RETURN></GENERIC_RETURN>');
    };
    for (const status of [200, 202, 409]) {
      const create = await run('qualys.create_user', CREATE, processing(status));
      expect(create, String(status)).toMatchObject({ outcome: 'unknown' });
      expect(create.error, String(status)).toMatch(/^outcome unknown: .*(still being processed|1981)/);
    }
    const deactivate = await run('qualys.deactivate_user', { login: 'x1' }, processing(200));
    expect(deactivate).toMatchObject({ outcome: 'failed', errorCode: 'vendor-failed' });
  });

  it('password_change WARNING with changed users succeeds and keeps the password; with none changed it fails', async () => {
    const warning = (count: number) => (_h: unknown, _q: unknown, res: import('node:http').ServerResponse) =>
      res.end(`<PASSWORD_CHANGE_OUTPUT><API name="password_change.php" username="u" at="2024-01-01T00:00:00Z" /><RETURN status="WARNING"><MESSAGE>Passwords could not be changed for 1 of 2 account(s)</MESSAGE><CHANGES count="${count}">${count ? '<USER_LIST><USER><USER_LOGIN>acme3sg</USER_LOGIN><PASSWORD><![CDATA[pw1!x]]></PASSWORD></USER></USER_LIST>' : ''}</CHANGES><FAILURES count="1"><USER_LIST><USER><USER_LOGIN>gone1</USER_LOGIN></USER></USER_LIST></FAILURES></RETURN></PASSWORD_CHANGE_OUTPUT>`);
    const partial = await run('qualys.change_password', { user_logins: 'acme3sg,gone1', email: false }, warning(1));
    expect(partial.outcome).toBe('succeeded');
    expect(partial.response!.outputs).toMatchObject({ login: 'acme3sg', password: 'pw1!x', changed_count: '1', message: expect.stringMatching(/could not be changed for 1 of 2/) });
    expect(partial.response!.text).not.toContain('pw1!x');
    const none = await run('qualys.change_password', { user_logins: 'gone1', email: false }, warning(0));
    expect(none).toMatchObject({ outcome: 'failed', errorCode: 'vendor-failed' });
  });

  it('an accepted create whose answer is too large to read is in doubt, not failed; an idempotent call fails', async () => {
    const huge = (_h: unknown, _q: unknown, res: import('node:http').ServerResponse) => res.end(`<USER_OUTPUT><RETURN status="SUCCESS"><MESSAGE>${'x'.repeat(6 * 1024 * 1024)}</MESSAGE></RETURN></USER_OUTPUT>`);
    const create = await run('qualys.create_user', CREATE, huge);
    expect(create).toMatchObject({ outcome: 'unknown', errorCode: 'http-body-too-large', attempts: 1 });
    expect(create.error).toMatch(/^outcome unknown: POST http:\/\/127\.0\.0\.1:\d+\/msp\/user\.php: response body exceeds \d+ bytes \(HTTP 200\), so the answer was not read, and POST user\.php is not safe to repeat/);
    const deactivate = await run('qualys.deactivate_user', { login: 'x1' }, huge);
    expect(deactivate).toMatchObject({ outcome: 'failed', errorCode: 'http-body-too-large' });
  });
});
