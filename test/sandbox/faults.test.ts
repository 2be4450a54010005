import { XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { FaultInjector } from '../../src/sandbox/faults.js';
import { FaultSpecError, parseFaultSpec } from '../../src/sandbox/index.js';
import { LIMIT_HEADERS, addParams, call, ret, startSandbox } from './helpers.js';

describe('fault spec grammar', () => {
  it.each([
    ['500:0.1,drop:every=7,malformed:0.05', [{ kind: '500', probability: 0.1 }, { kind: 'drop', every: 7 }, { kind: 'malformed', probability: 0.05 }]],
    ['drop:script=user:action=add:phase=after:times=1', [{ kind: 'drop', script: 'user.php', action: 'add', phase: 'after', times: 1 }]],
    ['latency:50', [{ kind: 'latency', ms: 50 }]],
    ['latency:20-80:script=user_list.php', [{ kind: 'latency', ms: 20, maxMs: 80, script: 'user_list.php' }]],
    ['slow-body:ms=300:p=0.5', [{ kind: 'slow-body', ms: 300, probability: 0.5 }]],
    ['huge:bytes=1000:every=2', [{ kind: 'huge', bytes: 1000, every: 2 }]],
    [' 500 , seed=9 ', [{ kind: '500' }]],
  ])('parses %s', (spec, rules) => {
    expect(parseFaultSpec(spec).rules).toEqual(rules);
  });

  it('reads the seed', () => {
    expect(parseFaultSpec('500:0.5,seed=42').seed).toBe(42);
  });

  it.each([
    ['boom:0.1', /unknown fault "boom"/],
    ['500:1.5', /bad option "1.5"/],
    ['500:every=0', /every must be an integer >= 1/],
    ['drop:phase=during', /phase must be before or after/],
    ['huge:phase=before', /huge always applies the request/],
    ['latency', /latency needs a delay/],
    ['latency:80-20', /reversed/],
    ['500:colour=red', /unknown option "colour"/],
  ])('rejects %s', (spec, message) => {
    expect(() => parseFaultSpec(spec)).toThrow(FaultSpecError);
    expect(() => parseFaultSpec(spec)).toThrow(message);
  });

  it('fires every Nth matching request and respects times', () => {
    const inj = new FaultInjector(parseFaultSpec('500:every=3:times=2:script=user.php'), 1);
    const fired = Array.from({ length: 12 }, () => inj.decide('user.php', 'add').fault !== null);
    expect(fired.map((f, i) => (f ? i + 1 : 0)).filter(Boolean)).toEqual([3, 6]);
    expect(inj.decide('user_list.php', undefined).fault).toBeNull();
  });

  it('is deterministic for a seed', () => {
    const run = (): boolean[] => {
      const inj = new FaultInjector(parseFaultSpec('500:0.5,seed=42'));
      return Array.from({ length: 50 }, () => inj.decide('user.php', 'add').fault !== null);
    };
    const a = run();
    expect(run()).toEqual(a);
    expect(a.filter(Boolean).length).toBeGreaterThan(10);
    expect(a.filter(Boolean).length).toBeLessThan(40);
  });
});

describe('fault injection over HTTP', () => {
  it('500: HTTP 500 with GENERIC_RETURN 999 and the limit headers; the request is not applied', async () => {
    const { sandbox, url } = await startSandbox({ faults: '500:script=user.php' });
    const before = sandbox.users().length;
    const r = await call(url, 'user.php', addParams());
    expect(r.status).toBe(500);
    expect(r.xml.GENERIC_RETURN.RETURN).toEqual({ '#text': 'Internal Error', '@_status': 'FAILED', '@_number': '999' });
    for (const h of LIMIT_HEADERS) expect(r.headers.get(h)).not.toBeNull();
    expect(sandbox.users()).toHaveLength(before);
    // Scoped to user.php: the list still works.
    expect((await call(url, 'user_list.php')).status).toBe(200);
    expect(sandbox.stats().byScript['user.php']?.faults).toBe(1);
  });

  it('500 after: applied, then HTTP 500', async () => {
    const { sandbox, url } = await startSandbox({ faults: '500:phase=after:action=add' });
    expect((await call(url, 'user.php', addParams())).status).toBe(500);
    expect(sandbox.findUserByEmail('chris.washington@example.com')).toBeDefined();
  });

  it('drop before: the connection closes without an answer and nothing is created', async () => {
    const { sandbox, url } = await startSandbox({ faults: 'drop:action=add:times=1' });
    const before = sandbox.users().length;
    await expect(call(url, 'user.php', addParams())).rejects.toThrow();
    expect(sandbox.users()).toHaveLength(before);
    // times=1: the next call goes through.
    expect(ret(await call(url, 'user.php', addParams())).status).toBe('SUCCESS');
  });

  it('drop after: the user IS created although the client saw no answer', async () => {
    const { sandbox, url } = await startSandbox({ faults: 'drop:script=user.php:action=add:phase=after:times=1' });
    await expect(call(url, 'user.php', addParams())).rejects.toThrow();
    expect(sandbox.findUser('quayscw1')).toMatchObject({ email: 'chris.washington@example.com', status: 'Pending Activation' });
    // A blind retry makes a duplicate (the dangerous case crash-safety tests look for).
    expect(ret(await call(url, 'user.php', addParams())).message).toBe('quayscw2 user has been successfully created.');
    expect(sandbox.users().filter((u) => u.email === 'chris.washington@example.com')).toHaveLength(2);
  });

  it('malformed: HTTP 200 with truncated XML; after-phase applies the request', async () => {
    const { sandbox, url } = await startSandbox({ faults: 'malformed:phase=after:script=user.php' });
    const r = await call(url, 'user.php', addParams());
    expect(r.status).toBe(200);
    expect(r.body.startsWith('<?xml')).toBe(true);
    expect(XMLValidator.validate(r.body)).not.toBe(true);
    expect(sandbox.findUser('quayscw1')).toBeDefined();

    const before = await startSandbox({ faults: 'malformed:1' });
    const list = await call(before.url, 'user_list.php');
    expect(list.status).toBe(200);
    expect(XMLValidator.validate(list.body)).not.toBe(true);
  });

  it('huge: a multi-megabyte but well-formed body', async () => {
    const { url } = await startSandbox({ faults: 'huge:bytes=6000000:script=user_list' });
    const r = await call(url, 'user_list.php');
    expect(r.status).toBe(200);
    expect(r.body.length).toBeGreaterThan(6_000_000);
    expect(XMLValidator.validate(r.body)).toBe(true);
    expect(r.xml.USER_LIST_OUTPUT.USER_LIST.USER.length).toBe(3);
  });

  it('slow-body and latency delay the answer', async () => {
    const { url } = await startSandbox({ faults: 'slow-body:ms=400:script=user_list,latency:150:script=user.php' });
    let t = performance.now();
    const slow = await call(url, 'user_list.php');
    expect(performance.now() - t).toBeGreaterThanOrEqual(300);
    expect(XMLValidator.validate(slow.body)).toBe(true);
    t = performance.now();
    await call(url, 'user.php', { action: 'nope' });
    expect(performance.now() - t).toBeGreaterThanOrEqual(140);
  });

  it('every=N over HTTP, and faults can be replaced at runtime', async () => {
    const { sandbox, url } = await startSandbox({ faults: '500:every=3' });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await call(url, 'user_list.php')).status);
    expect(statuses).toEqual([200, 200, 500, 200, 200, 500]);
    sandbox.setFaults(null);
    expect((await call(url, 'user_list.php')).status).toBe(200);
    sandbox.setFaults('500:1');
    expect((await call(url, 'user_list.php')).status).toBe(500);
  });

  it('probabilistic faults repeat for the same seed', async () => {
    const run = async (): Promise<number[]> => {
      const { url } = await startSandbox({ faults: '500:0.5,seed=7' });
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await call(url, 'user_list.php')).status);
      return out;
    };
    const a = await run();
    expect(await run()).toEqual(a);
    expect(new Set(a)).toEqual(new Set([200, 500]));
  });
});
