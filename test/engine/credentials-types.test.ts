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
  },
};
const env = { HOOK_TOKEN: 'tok-Secret-1', API_KEY: 'key-Secret-2' };

async function call(credential: string, request: Record<string, unknown>) {
  const hits: Hit[] = [];
  const s = await startServer((hit, _req, res) => {
    hits.push(hit);
    res.end('{"ok":true}');
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
    expect(bearer.hit.headers.authorization).toBe('Bearer tok-Secret-1');
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
