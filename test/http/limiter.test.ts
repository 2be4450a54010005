// The Limiter in front of real servers that enforce Qualys-style limits (409 + 1960/1965 with the
// X-RateLimit-* / X-Concurrency-Limit-* headers): no 409s when the headers are honoured, and one
// shared pause instead of a retry storm when a block happens anyway.
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpClient, HttpError, Limiter } from '../../src/http/index.js';
import { delay, rejection, startServer, type Hit, type TestServer } from './server.js';

const servers: TestServer[] = [];
const clients: HttpClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function client(limiter: Limiter): HttpClient {
  const c = new HttpClient({ limiter, random: () => 0, retry: { attempts: 5, backoffMs: 10, maxBackoffMs: 50 } });
  clients.push(c);
  return c;
}

interface QualysLimits {
  concurrency: number;
  rate: { limit: number; windowMs: number };
  holdMs: number;
}

/** A server applying a concurrency limit first, then a sliding-window rate limit, like Qualys. */
async function qualysServer(limits: QualysLimits): Promise<TestServer & { counters: { blocked: number; ok: number } }> {
  const accepted: number[] = [];
  let running = 0;
  const counters = { blocked: 0, ok: 0 };
  const headers = (res: ServerResponse, remaining: number, toWait: number): void => {
    res.setHeader('X-RateLimit-Limit', String(limits.rate.limit));
    res.setHeader('X-RateLimit-Window-Sec', String(limits.rate.windowMs / 1000));
    res.setHeader('X-RateLimit-Remaining', String(remaining));
    res.setHeader('X-RateLimit-ToWait-Sec', String(toWait));
    res.setHeader('X-Concurrency-Limit-Limit', String(limits.concurrency));
    res.setHeader('X-Concurrency-Limit-Running', String(running));
  };
  const block = (res: ServerResponse, code: number, remaining: number, toWait: number): void => {
    counters.blocked++;
    headers(res, remaining, toWait);
    res.statusCode = 409;
    res.end(`<SIMPLE_RETURN><RESPONSE><CODE>${code}</CODE><TEXT>This API cannot be run again</TEXT></RESPONSE></SIMPLE_RETURN>`);
  };
  const s = await startServer(async (_hit: Hit, _req, res) => {
    const now = Date.now();
    while (accepted.length > 0 && accepted[0]! <= now - limits.rate.windowMs) accepted.shift();
    running++;
    try {
      if (running > limits.concurrency) return block(res, 1960, limits.rate.limit - accepted.length, 0);
      if (accepted.length >= limits.rate.limit) return block(res, 1965, 0, Math.ceil((accepted[0]! + limits.rate.windowMs - now) / 1000));
      accepted.push(now);
      await delay(limits.holdMs);
      counters.ok++;
      headers(res, limits.rate.limit - accepted.length, 0);
      res.end('<OK/>');
    } finally {
      running--;
    }
  });
  servers.push(s);
  return Object.assign(s, { counters });
}

const call = (c: HttpClient, s: TestServer, idempotent = true) =>
  c.send({ method: 'POST', url: `${s.url}/msp/user.php`, headers: {}, body: 'action=edit' }, { idempotent, limiterKey: 'qualys:user.php' });

describe('Limiter', () => {
  it('never runs more calls at once than X-Concurrency-Limit-Limit', async () => {
    const s = await qualysServer({ concurrency: 2, rate: { limit: 1000, windowMs: 60_000 }, holdMs: 15 });
    const limiter = new Limiter();
    const c = client(limiter);
    const results = await Promise.all(Array.from({ length: 20 }, () => call(c, s)));
    expect(results.every((r) => r.status === 200 && r.attempts === 1)).toBe(true);
    expect(s.maxInFlight).toBeLessThanOrEqual(2);
    expect(s.counters.blocked).toBe(0);
    expect(limiter.stats('qualys:user.php')).toMatchObject({ inFlight: 0, maxInFlightSeen: 2, limit: 2, blocked409: 0, queued: 0 });
    expect(limiter.stats('qualys:user.php').waits).toBeGreaterThan(0);
  });

  it('caps concurrency further with maxConcurrency', async () => {
    const s = await qualysServer({ concurrency: 5, rate: { limit: 1000, windowMs: 60_000 }, holdMs: 5 });
    const c = client(new Limiter({ maxConcurrency: 1 }));
    await Promise.all(Array.from({ length: 6 }, () => call(c, s)));
    expect(s.maxInFlight).toBe(1);
  });

  it('paces calls under the rate limit instead of running into 409s', async () => {
    // 5 calls per 1 s window (1 s rather than longer keeps the test short; the fake-clock policy test uses 5 per 2 s).
    const s = await qualysServer({ concurrency: 10, rate: { limit: 5, windowMs: 1000 }, holdMs: 2 });
    const limiter = new Limiter();
    const c = client(limiter);
    const results = await Promise.all(Array.from({ length: 8 }, () => call(c, s)));
    expect(results.map((r) => r.attempts)).toEqual(Array(8).fill(1));
    expect(s.counters.blocked).toBe(0);
    expect(s.counters.ok).toBe(8);
    expect(limiter.stats('qualys:user.php').blocked409).toBe(0);
  });

  it('after a 409 pauses the whole key once instead of letting every caller retry', async () => {
    let blockedUntil = 0;
    let blocks = 0;
    const s = await startServer((hit, _req, res) => {
      const now = Date.now();
      if (hit.n === 1) blockedUntil = now + 1000;
      if (now < blockedUntil) {
        blocks++;
        res.statusCode = 409;
        res.setHeader('X-RateLimit-Remaining', '0');
        res.setHeader('X-RateLimit-ToWait-Sec', '1');
        return void res.end('<SIMPLE_RETURN><RESPONSE><CODE>1965</CODE></RESPONSE></SIMPLE_RETURN>');
      }
      res.setHeader('X-RateLimit-Limit', '100');
      res.setHeader('X-RateLimit-Window-Sec', '60');
      res.setHeader('X-RateLimit-Remaining', '90');
      res.end('<OK/>');
    });
    servers.push(s);
    const limiter = new Limiter({ initialConcurrency: 3 });
    const c = client(limiter);
    const results = await Promise.all(Array.from({ length: 10 }, () => call(c, s, false)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    // Only the three calls already in flight met the block; nothing was sent until it ended.
    expect(blocks).toBe(3);
    expect(s.hits).toHaveLength(13);
    expect(limiter.stats('qualys:user.php').blocked409).toBe(3);
  });

  it('fails queued and later calls at once when the vendor pauses the key for hours, instead of hanging', async () => {
    // The reference's sample: a spent daily budget, X-RateLimit-ToWait-Sec 68928.
    const s = await startServer((hit, _req, res) => {
      if (hit.n === 1) {
        res.setHeader('X-RateLimit-Limit', '50');
        res.setHeader('X-RateLimit-Window-Sec', '86400');
        res.setHeader('X-RateLimit-Remaining', '0');
        res.setHeader('X-RateLimit-ToWait-Sec', '68928');
        res.statusCode = 409;
        return void delay(50).then(() => res.end('<GENERIC_RETURN><RETURN status="FAILED" number="1965">Rate limit exceeded</RETURN></GENERIC_RETURN>'));
      }
      res.end('<OK/>');
    });
    servers.push(s);
    const limiter = new Limiter({ initialConcurrency: 1 });
    const c = client(limiter);
    const t0 = Date.now();
    const errors = await Promise.all(Array.from({ length: 5 }, () => rejection(call(c, s, false))));
    expect(Date.now() - t0).toBeLessThan(5000);
    for (const err of errors) expect(err).toMatchObject({ kind: 'limit', retryable: true, retryAfterMs: expect.any(Number) });
    expect((errors[0] as HttpError).retryAfterMs).toBeGreaterThan(68_000_000);
    // The four callers that queued behind the blocked call were told without a request.
    expect(s.hits).toHaveLength(1);
    expect((errors[1] as Error).message).toMatch(/qualys:user\.php: the vendor's rate limit lets the next call go in 689\d\d s, past the 300 s a call waits; retry later/);
    const later = await rejection(call(c, s, false));
    expect(later).toMatchObject({ kind: 'limit' });
    expect(s.hits).toHaveLength(1);
    expect(limiter.stats('qualys:user.php').queued).toBe(0);
  });

  it('sends the last call of a budget now rather than spreading it over more than a call waits', async () => {
    const s = await startServer((hit, _req, res) => {
      res.setHeader('X-RateLimit-Limit', '3');
      res.setHeader('X-RateLimit-Window-Sec', '3600');
      res.setHeader('X-RateLimit-Remaining', String(Math.max(0, 2 - hit.n + 1)));
      res.end('<OK/>');
    });
    servers.push(s);
    const limiter = new Limiter({ initialConcurrency: 1 });
    const c = client(limiter);
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) expect((await call(c, s)).status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(s.hits).toHaveLength(3);
  });

  it('lets a queued caller abort', async () => {
    let releaseFirst = (): void => undefined;
    const s = await startServer((hit, _req, res) => {
      if (hit.n === 1) releaseFirst = () => res.end('ok');
      else res.end('ok');
    });
    servers.push(s);
    const limiter = new Limiter({ initialConcurrency: 1 });
    const c = client(limiter);
    const first = call(c, s);
    const ac = new AbortController();
    const second = c.send({ method: 'GET', url: `${s.url}/`, headers: {} }, { idempotent: true, limiterKey: 'qualys:user.php', signal: ac.signal });
    await delay(20);
    expect(limiter.stats('qualys:user.php')).toMatchObject({ inFlight: 1, queued: 1 });
    ac.abort();
    const err = await rejection(second);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ kind: 'aborted', attempts: 0 });
    expect(limiter.stats('qualys:user.php')).toMatchObject({ queued: 0 });
    releaseFirst();
    await first;
    expect(s.hits).toHaveLength(1);
  });
});
