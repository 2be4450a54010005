// Credential types beyond Basic (a bearer token, an API-key header), read from the environment at
// run time and sent by the real step code to a local server; and the request as plans and run
// history show it, with secret-named headers and query values masked.
import { afterEach, describe, expect, it } from 'vitest';
import { resolveCredential } from '../../src/engine/credentials.js';
import { executeStep } from '../../src/engine/step.js';
import { HttpClient } from '../../src/http/index.js';
import { startServer, type Hit, type TestServer } from '../http/server.js';

const servers: TestServer[] = [];
const clients: HttpClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const config = {
  version: 1 as const,
  credentials: {
    hook: { type: 'bearer' as const, token: { env: 'HOOK_TOKEN' } },
    apikey: { type: 'header' as const, header: 'X-Api-Key', value: { env: 'API_KEY' } },
    qualys: { type: 'basic' as const, username: { env: 'QU' }, password: { env: 'QP' } },
  },
};
// Fake secrets, spelt so that a leak is easy to find: the tests prove they never reach history.
const env = { HOOK_TOKEN: 'tok/Secret-1', API_KEY: 'key-Secret-2', QU: 'api_user', QP: 'Pass&<Secret>"3' };

type Respond = (hit: Hit, res: import('node:http').ServerResponse) => void;

async function call(credential: string, request: Record<string, unknown>, respond: Respond = (_h, res) => res.end('{"ok":true}')) {
  const hits: Hit[] = [];
  const s = await startServer((hit, _req, res) => {
    hits.push(hit);
    respond(hit, res);
  });
  servers.push(s);
  const http = new HttpClient();
  clients.push(http);
  const exec = await executeStep(
    { id: 'notify', credentials: credential, request: { method: 'POST', url: `${s.url}/hook`, ...request } } as never,
    undefined,
    { username: 'ada', vars: {} },
    { http, vars: {}, credential: resolveCredential(config, credential, env, '.') },
  );
  return { exec, hit: hits[0]! };
}

describe('credential types', () => {
  it('bearer sends Authorization: Bearer TOKEN; header sends its own header; neither is shown', async () => {
    const bearer = await call('hook', { body: '{"user":"{{username}}"}' });
    expect(bearer.exec.outcome).toBe('succeeded');
    expect(bearer.hit.headers.authorization).toBe('Bearer tok/Secret-1');
    const header = await call('apikey', { body: '{}' });
    expect(header.hit.headers['x-api-key']).toBe('key-Secret-2');
    for (const { exec } of [bearer, header]) expect(JSON.stringify(exec.request)).not.toMatch(/Secret/);
  });

  it('a missing variable names it before anything is sent', () => {
    expect(() => resolveCredential(config, 'apikey', {}, '.')).toThrow(/^credential "apikey": environment variable API_KEY \(its value\) is not set$/);
  });

  it('shows secret-named headers, query and form values and JSON body keys masked, and sends them as they are', async () => {
    const { exec, hit } = await call('apikey', {
      headers: { 'X-Session-Token': '{{username}}-s', 'X-Trace': 't1' },
      query: { token: '{{username}}-q', page: '2' },
      body: '{"password":"{{username}}-p","name":"{{username}}"}',
    });
    expect(hit.headers['x-session-token']).toBe('ada-s');
    expect(hit.url).toContain('token=ada-q');
    expect(exec.request).toMatchObject({
      headers: { 'x-session-token': '[REDACTED]', 'x-trace': 't1' },
      params: { token: '[REDACTED]', page: '2' },
    });
    expect(exec.request!.url).toMatch(/token=%5BREDACTED%5D&page=2$|page=2&token=%5BREDACTED%5D$/);
    expect(exec.request!.body).toBe('{"password":"[REDACTED]","name":"ada"}');
  });
});

describe('a server that echoes the credential', () => {
  const secrets = /tok\\?\/Secret-1|key-Secret-2|Pass|YXBpX3VzZXI6|api_user:/;
  const json = { response: { format: 'json' } };

  it('has it cut out of the stored answer, its headers and its parsed tree, in every spelling', async () => {
    const echo: Respond = (hit, res) => {
      res.setHeader('x-echo', String(hit.headers.authorization ?? hit.headers['x-api-key']));
      res.setHeader('content-type', 'application/json');
      // PHP's json_encode writes "/" as "\/".
      res.end(JSON.stringify({ seen: hit.headers, again: String(hit.headers['x-api-key'] ?? '') }).replace(/\//g, '\\/'));
    };
    for (const cred of ['hook', 'apikey', 'qualys']) {
      const { exec, hit } = await call(cred, { body: '{}', ...json }, echo);
      expect(exec.outcome).toBe('succeeded');
      expect(JSON.stringify(hit.headers)).toMatch(secrets); // it was sent
      const stored = JSON.stringify({ text: exec.response!.text, tree: exec.response!.tree, headers: exec.headers });
      expect(stored).not.toMatch(secrets);
      expect(stored).toContain('[REDACTED]');
    }
  });

  it('has the password cut out of XML text (escaped) and of an error answer', async () => {
    const xmlEcho: Respond = (_hit, res) => {
      res.statusCode = 500;
      res.end(`<ERROR><PW>Pass&amp;&lt;Secret&gt;&quot;3</PW><RAW>Pass&<Secret>"3</RAW></ERROR>`);
    };
    const { exec } = await call('qualys', { body: '{}', response: { format: 'text' } }, xmlEcho);
    // A POST that drew a 500 may have run: in doubt, with the answer kept for a person to read.
    expect(exec.outcome).toBe('unknown');
    expect(exec.response!.text).toBe('<ERROR><PW>[REDACTED]</PW><RAW>[REDACTED]</RAW></ERROR>');
    expect(exec.error).not.toMatch(secrets);
  });

  it('leaves a secret too short to be told from ordinary text alone', async () => {
    const short = { ...config, credentials: { k: { type: 'header' as const, header: 'X-K', value: { env: 'K' } } } };
    const s = await startServer((_hit, _req, res) => res.end('{"a":"abc"}'));
    servers.push(s);
    const http = new HttpClient();
    clients.push(http);
    const exec = await executeStep(
      { id: 'n', credentials: 'k', request: { method: 'POST', url: `${s.url}/h`, body: '{}', response: { format: 'json' } } } as never,
      undefined,
      { username: 'ada', vars: {} },
      { http, vars: {}, credential: resolveCredential(short, 'k', { K: 'a' }, '.') },
    );
    expect(exec.response!.text).toBe('{"a":"abc"}');
  });
});

describe('inline requests (from an end-to-end review)', () => {
  it('hide a sensitive output in the stored answer and its tree, drop a query value whose template renders "", mask secret-named body keys', async () => {
    const { exec, hit } = await call('apikey', {
      query: { email: '{{missing}}', page: '', keep: 'x' },
      headers: { 'X-Note': 'ok' },
      body: '{"new_password":"{{username}}-p","user_token":"t-{{username}}","name":"{{username}}"}',
      response: { format: 'json' },
      outputs: { api_key: { path: 'api_key', sensitive: true, description: 'the new key' }, id: { path: 'id', description: 'id' } },
    }, (_h, res) => res.end('{"id":7,"api_key":"ak_1681secret","echo":"ak_1681secret"}'));
    expect(exec.outcome).toBe('succeeded');
    expect(exec.response!.outputs).toMatchObject({ api_key: 'ak_1681secret', id: '7' });
    expect(exec.response!.text).not.toContain('ak_1681secret');
    expect(JSON.stringify(exec.response!.tree)).not.toContain('ak_1681secret');
    // "{{missing}}" rendered "": not given; a literal "" is sent.
    expect(hit.url).toMatch(/[?&]page=(&|$)/);
    expect(hit.url).not.toContain('email=');
    expect(exec.request!.body).toBe('{"new_password":"[REDACTED]","user_token":"[REDACTED]","name":"ada"}');
  });

  it('a header value with a line break fails the step before sending; an error answer with only a message keeps it', async () => {
    let hits = 0;
    const s = await startServer((_hit, _req, res) => {
      hits++;
      res.statusCode = 404;
      res.end('{"error":{"message":"no such user"}}');
    });
    servers.push(s);
    const http = new HttpClient();
    clients.push(http);
    const step = (headers: Record<string, string>) => ({ id: 'n', credentials: 'apikey', request: { method: 'GET', url: `${s.url}/u`, headers, response: { format: 'json', error_message: ['error.message'] } } }) as never;
    const cred = resolveCredential(config, 'apikey', env, '.');
    const bad = await executeStep(step({ 'X-Note': '{{note}}' }), undefined, { username: 'ada', note: 'line1\nline2', vars: {} }, { http, vars: {}, credential: cred });
    expect(bad).toMatchObject({ outcome: 'failed', errorCode: 'param-value' });
    expect(bad.error).toMatch(/header "X-Note" would carry a line break/);
    expect(hits).toBe(0);
    const missing = await executeStep(step({}), undefined, { username: 'ada', vars: {} }, { http, vars: {}, credential: cred });
    expect(missing.error).toMatch(/HTTP 404 .*\(the server: no such user\)$/);
  });
});

