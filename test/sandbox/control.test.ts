import { describe, expect, it } from 'vitest';
import { addParams, call, startSandbox } from './helpers.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function control(url: string, method: 'GET' | 'POST', route: string, body?: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}/__sandbox/${route}`, { method, body });
  return { status: res.status, json: await res.json() };
}

describe('control API', () => {
  it('reports health, stats, users and state', async () => {
    const { url } = await startSandbox({ users: 2 });
    expect(await control(url, 'GET', 'health')).toEqual({ status: 200, json: { ok: true } });
    await call(url, 'user.php', addParams());
    await call(url, 'user_list.php', {}, { auth: false });
    const stats = await control(url, 'GET', 'stats');
    expect(stats.json).toEqual({
      requests: 2,
      byScript: {
        'user.php': { requests: 1, maxConcurrentSeen: 1, blocked409: 0, faults: 0 },
        'user_list.php': { requests: 1, maxConcurrentSeen: 0, blocked409: 0, faults: 0 },
      },
    });
    const users = (await control(url, 'GET', 'users')).json as Array<{ login: string; password: string | null }>;
    expect(users).toHaveLength(6);
    expect(users.find((u) => u.login === 'quayscw1')?.password).toHaveLength(8);
    expect((await control(url, 'GET', 'state')).json.version).toBe(1);
    expect((await control(url, 'GET', 'nope')).status).toBe(404);
  });

  it('sets faults and limits, and resets', async () => {
    const { sandbox, url } = await startSandbox();
    expect((await control(url, 'POST', 'faults', '500:1:script=user_list')).status).toBe(200);
    expect((await call(url, 'user_list.php')).status).toBe(500);
    expect(await control(url, 'POST', 'faults', 'boom')).toMatchObject({ status: 400, json: { code: 'sandbox-fault-spec' } });
    await control(url, 'POST', 'faults', '');
    expect((await call(url, 'user_list.php')).status).toBe(200);

    expect((await control(url, 'POST', 'limits', '{"rate":"1/60"}')).status).toBe(200);
    expect((await call(url, 'user.php', addParams())).status).toBe(200);
    expect((await call(url, 'user.php', addParams())).status).toBe(409);
    expect((await control(url, 'POST', 'limits', '{"concurrency":0}')).status).toBe(400);

    expect((await control(url, 'POST', 'reset')).status).toBe(200);
    expect(sandbox.users()).toHaveLength(3);
    // reset clears the rate window, limits stay
    expect((await call(url, 'user.php', addParams())).status).toBe(200);
    expect((await call(url, 'user.php', addParams())).status).toBe(409);
  });

  it('can be switched off', async () => {
    const { url } = await startSandbox({ controlApi: false });
    expect((await fetch(`${url}/__sandbox/health`)).status).toBe(404);
  });
});
