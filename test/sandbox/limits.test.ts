import { describe, expect, it } from 'vitest';
import { parseRateLimit } from '../../src/sandbox/index.js';
import { LIMIT_HEADERS, MGR, PASSWORD, addParams, basic, call, startSandbox } from './helpers.js';

function limitHeaders(h: Headers): Record<string, string | null> {
  return Object.fromEntries(LIMIT_HEADERS.map((k) => [k, h.get(k)]));
}

describe('API limits', () => {
  it('sends all six headers with large values when limits are off, on every response', async () => {
    const { url } = await startSandbox();
    const r = await call(url, 'user_list.php');
    expect(limitHeaders(r.headers)).toEqual({
      'x-ratelimit-limit': '1000000',
      'x-ratelimit-window-sec': '3600',
      'x-ratelimit-remaining': '999999',
      'x-ratelimit-towait-sec': '0',
      'x-concurrency-limit-limit': '1000000',
      'x-concurrency-limit-running': '1',
    });
    const notFound = await fetch(`${url}/msp/about.php`, { headers: { authorization: basic(MGR, PASSWORD) } });
    expect(notFound.status).toBe(404);
    await notFound.text();
    for (const h of LIMIT_HEADERS) expect(notFound.headers.get(h)).not.toBeNull();
    const failed = await call(url, 'user.php', { action: 'nope' });
    for (const h of LIMIT_HEADERS) expect(failed.headers.get(h)).not.toBeNull();
  });

  it('enforces a sliding-window rate per (subscription, script) with 409 + 1965 and ToWait-Sec', async () => {
    let now = Date.UTC(2025, 0, 1, 12, 0, 0);
    const { sandbox, url } = await startSandbox({ limits: { rate: { calls: 3, windowSec: 60 } }, now: () => now });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call(url, 'user_list.php');
      expect(r.status).toBe(200);
      remaining.push(r.headers.get('x-ratelimit-remaining') as string);
      now += 10_000;
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const blocked = await call(url, 'user_list.php');
    expect(blocked.status).toBe(409);
    expect(limitHeaders(blocked.headers)).toMatchObject({
      'x-ratelimit-limit': '3',
      'x-ratelimit-window-sec': '60',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-towait-sec': '30',
      // "Calls running right now, including this one" (reference §13.1), refused or not.
      'x-concurrency-limit-running': '1',
    });
    expect(blocked.xml.GENERIC_RETURN.RETURN).toEqual({
      '#text': 'This API cannot be run again for another 0 hours, 0 minutes and 30 seconds.',
      '@_status': 'FAILED',
      '@_number': '1965',
    });
    expect(blocked.xml.GENERIC_RETURN.API['@_name']).toBe('user_list.php');

    // Another script of the same subscription has its own budget, and blocked adds are not applied.
    expect((await call(url, 'user.php', addParams())).status).toBe(200);
    const before = sandbox.users().length;
    for (let i = 0; i < 3; i++) await call(url, 'user.php', addParams());
    expect(sandbox.users()).toHaveLength(before + 2);

    now += 30_001; // the first call (at +0 s) leaves the 60 s window
    expect((await call(url, 'user_list.php')).status).toBe(200);
    expect(sandbox.stats().byScript['user_list.php']).toMatchObject({ requests: 5, blocked409: 1 });
    expect(sandbox.stats().byScript['user.php']).toMatchObject({ requests: 4, blocked409: 1 });
  });

  it('a known caller refused at login (wrong password) sees its budget as it stands, not a full one', async () => {
    const now = Date.UTC(2025, 0, 1, 12, 0, 0);
    const { url } = await startSandbox({ limits: { rate: { calls: 2, windowSec: 600 } }, now: () => now });
    for (let i = 0; i < 2; i++) expect((await call(url, 'user_list.php')).status).toBe(200);
    const denied = await call(url, 'user_list.php', {}, { password: 'wrong' });
    expect(denied.status).toBe(401);
    expect(limitHeaders(denied.headers)).toMatchObject({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '0', 'x-ratelimit-towait-sec': '600' });
    // Another script's budget is its own; an unknown login gets the sandbox-wide headers.
    expect((await call(url, 'user.php', { action: 'nope' }, { password: 'wrong' })).headers.get('x-ratelimit-remaining')).toBe('2');
    expect((await call(url, 'user_list.php', {}, { user: 'nobody' })).headers.get('x-ratelimit-remaining')).toBe('2');
  });

  it('a rate switched on at run time starts with an empty window', async () => {
    const { sandbox, url } = await startSandbox({ limits: { rate: { calls: 5, windowSec: 60 } } });
    expect((await call(url, 'user_list.php')).status).toBe(200);
    sandbox.setLimits({ rate: null });
    sandbox.setLimits({ rate: { calls: 1, windowSec: 60 } });
    expect((await call(url, 'user_list.php')).status).toBe(200);
    expect((await call(url, 'user_list.php')).status).toBe(409);
  });

  it('limits concurrency per (subscription, script) with 409 + 1960 and never exceeds it', async () => {
    const { sandbox, url } = await startSandbox({ limits: { concurrency: 2 }, latencyMs: 400 });
    const results = await Promise.all(Array.from({ length: 8 }, () => call(url, 'user_list.php')));
    const ok = results.filter((r) => r.status === 200);
    const blocked = results.filter((r) => r.status === 409);
    // Normally 2 and 6; a slow machine may let a late request in after a slot freed up.
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(blocked.length).toBeGreaterThanOrEqual(4);
    expect(ok.length + blocked.length).toBe(8);
    for (const r of blocked) {
      expect(r.xml.GENERIC_RETURN.RETURN['@_number']).toBe('1960');
      expect(r.xml.GENERIC_RETURN.RETURN['#text']).toBe('This API cannot be run again until 1 currently running API instance has finished.');
      expect(Number(r.headers.get('x-concurrency-limit-running'))).toBeGreaterThanOrEqual(2);
      expect(r.headers.get('x-concurrency-limit-limit')).toBe('2');
      expect(r.headers.get('x-ratelimit-towait-sec')).toBe('0');
    }
    expect(sandbox.stats().byScript['user_list.php']).toEqual({ requests: 8, maxConcurrentSeen: 2, blocked409: blocked.length, faults: 0 });
  });

  it('never exceeds the concurrency limit under sustained parallel load', async () => {
    const { sandbox, url } = await startSandbox({ limits: { concurrency: 3 }, latencyMs: 3 });
    let okCount = 0;
    let maxRunningHeader = 0;
    const worker = async (): Promise<void> => {
      for (let i = 0; i < 15; i++) {
        const r = await call(url, 'user_list.php');
        if (r.status !== 200) continue;
        okCount++;
        maxRunningHeader = Math.max(maxRunningHeader, Number(r.headers.get('x-concurrency-limit-running')));
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    const s = sandbox.stats().byScript['user_list.php'];
    expect(s?.requests).toBe(150);
    expect(s?.maxConcurrentSeen).toBeGreaterThan(0);
    expect(s?.maxConcurrentSeen).toBeLessThanOrEqual(3);
    expect(okCount + (s?.blocked409 ?? 0)).toBe(150);
    expect(maxRunningHeader).toBeLessThanOrEqual(3);
  });

  it('checks concurrency before rate', async () => {
    const { url } = await startSandbox({ limits: { concurrency: 1, rate: { calls: 1, windowSec: 3600 } }, latencyMs: 500 });
    const [a, b] = await Promise.all([call(url, 'user_list.php'), call(url, 'user_list.php')]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(409);
    expect(b.xml.GENERIC_RETURN.RETURN['@_number']).toBe('1960');
    const c = await call(url, 'user_list.php');
    expect(c.xml.GENERIC_RETURN.RETURN['@_number']).toBe('1965');
    expect(Number(c.headers.get('x-ratelimit-towait-sec'))).toBeGreaterThan(3500);
  });

  it('can omit ToWait-Sec on blocked calls, always or on the first block only', async () => {
    const always = await startSandbox({ limits: { rate: { calls: 1, windowSec: 60 }, toWaitHeader: 'omit-on-block' } });
    await call(always.url, 'user_list.php');
    for (let i = 0; i < 2; i++) {
      const r = await call(always.url, 'user_list.php');
      expect(r.status).toBe(409);
      expect(r.headers.get('x-ratelimit-towait-sec')).toBeNull();
      expect(r.headers.get('x-ratelimit-remaining')).toBe('0');
    }
    const first = await startSandbox({ limits: { rate: { calls: 1, windowSec: 60 }, toWaitHeader: 'omit-on-first-block' } });
    await call(first.url, 'user_list.php');
    expect((await call(first.url, 'user_list.php')).headers.get('x-ratelimit-towait-sec')).toBeNull();
    expect(Number((await call(first.url, 'user_list.php')).headers.get('x-ratelimit-towait-sec'))).toBeGreaterThan(0);
  });

  it('applies per-subscription limits and runtime changes', async () => {
    const { sandbox, url } = await startSandbox({
      accounts: [
        { username: 'slow', password: PASSWORD, role: 'manager', subscription: 'express' },
        { username: 'fast', password: PASSWORD, role: 'manager', subscription: 'premium' },
      ],
      subscriptions: [{ id: 'express', limits: { rate: { calls: 1, windowSec: 86400 } } }],
    });
    expect((await call(url, 'user_list.php', {}, { user: 'slow' })).status).toBe(200);
    expect((await call(url, 'user_list.php', {}, { user: 'slow' })).status).toBe(409);
    expect((await call(url, 'user_list.php', {}, { user: 'fast' })).status).toBe(200);
    // Calls are only recorded while a rate limit is on: the next call is the first of the window.
    sandbox.setLimits({ rate: { calls: 1, windowSec: 10 } });
    expect((await call(url, 'user_list.php', {}, { user: 'fast' })).status).toBe(200);
    expect((await call(url, 'user_list.php', {}, { user: 'fast' })).status).toBe(409);
    sandbox.setLimits({});
    expect((await call(url, 'user_list.php', {}, { user: 'fast' })).status).toBe(200);
  });

  it('parses CALLS/SECONDS', () => {
    expect(parseRateLimit('300/3600')).toEqual({ calls: 300, windowSec: 3600 });
    for (const bad of ['300', '0/10', '10/0', 'a/b', '1/2/3']) expect(parseRateLimit(bad)).toBeNull();
  });
});
