// HttpClient against real local servers: retries by idempotency and by whether the request may
// have reached the server, 409 limit blocks, timeouts, the body cap, aborts and message hygiene.
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpClient, HttpError, Limiter, type HttpClientOptions } from '../../src/http/index.js';
import { closedPort, rejection, startServer, type TestServer } from './server.js';

const servers: TestServer[] = [];
const clients: HttpClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(handler);
  servers.push(s);
  return s;
}

/** Fast retries and no jitter unless a test says otherwise. */
function client(opts: HttpClientOptions = {}): HttpClient {
  const c = new HttpClient({ random: () => 0.5, ...opts, retry: { attempts: 3, backoffMs: 10, maxBackoffMs: 20, limitJitterMs: 0, ...opts.retry } });
  clients.push(c);
  return c;
}

async function httpError(p: Promise<unknown>): Promise<HttpError> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(HttpError);
  return err as HttpError;
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };

describe('HttpClient', () => {
  it('returns status, lower-cased headers and body', async () => {
    const s = await server((_hit, _req, res) => {
      res.setHeader('X-RateLimit-Limit', '300');
      res.setHeader('Content-Type', 'application/xml; charset=utf-8');
      res.end('<OK>é</OK>');
    });
    const res = await client().send({ method: 'GET', url: `${s.url}/msp/about.php`, headers: {} }, { idempotent: true });
    expect(res).toMatchObject({ status: 200, body: '<OK>é</OK>', attempts: 1 });
    expect(res.headers['x-ratelimit-limit']).toBe('300');
    expect(res.durationMs).toBeGreaterThanOrEqual(0);
    expect(res.waitedMs).toBeGreaterThanOrEqual(0);
  });

  it('reads gzip, deflate (zlib or raw) and br answers a proxy compressed, and caps what they expand to', async () => {
    const xml = '<USER_OUTPUT><RETURN status="SUCCESS"><MESSAGE>é ok</MESSAGE></RETURN></USER_OUTPUT>';
    const encoders: Record<string, (b: Buffer) => Buffer> = { gzip: (b) => gzipSync(b), deflate: (b) => deflateSync(b), 'deflate-raw': (b) => deflateRawSync(b), br: (b) => brotliCompressSync(b) };
    const s = await server((_hit, req, res) => {
      const kind = req.url!.slice(1);
      res.setHeader('Content-Encoding', kind === 'deflate-raw' ? 'deflate' : kind === 'bomb' ? 'gzip' : kind);
      res.end(kind === 'bomb' ? gzipSync(Buffer.alloc(2_000_000, 'a')) : encoders[kind]!(Buffer.from(xml)));
    });
    for (const kind of Object.keys(encoders)) {
      expect((await client().send({ method: 'GET', url: `${s.url}/${kind}`, headers: {} }, { idempotent: true })).body, kind).toBe(xml);
    }
    // A few KB of gzip that would expand past the body cap is refused like a large body.
    const err = await httpError(client({ maxBodyBytes: 100_000 }).send({ method: 'GET', url: `${s.url}/bomb`, headers: {} }, { idempotent: true }));
    expect(err.kind).toBe('body-too-large');
  });

  it('delivers a form body intact', async () => {
    const s = await server((hit, _req, res) => res.end(hit.body));
    const body = 'action=add&title=Security+Consultant&comment=%26%3D%25+%C3%A9&empty=';
    const res = await client().send({ method: 'POST', url: `${s.url}/msp/user.php`, headers: form, body }, { idempotent: false });
    expect(res.body).toBe(body);
    expect(s.hits[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(s.hits[0]!.headers['content-length']).toBe(String(Buffer.byteLength(body)));
  });

  it('keeps the connection alive across sequential calls', async () => {
    const s = await server((_hit, _req, res) => res.end('ok'));
    const c = client({ connections: 1 });
    for (let i = 0; i < 3; i++) await c.send({ method: 'GET', url: `${s.url}/`, headers: {} }, { idempotent: true });
    expect(s.connections).toBe(1);
  });

  it('retries a 5xx when idempotent', async () => {
    const s = await server((hit, _req, res) => {
      res.statusCode = hit.n < 3 ? 503 : 200;
      res.end(hit.n < 3 ? 'busy' : 'ok');
    });
    const events: unknown[] = [];
    const res = await client().send({ method: 'GET', url: `${s.url}/`, headers: {} }, { idempotent: true, onRetry: (e) => events.push(e) });
    expect(res).toMatchObject({ status: 200, body: 'ok', attempts: 3 });
    expect(s.hits).toHaveLength(3);
    expect(events).toEqual([
      { attempt: 1, reason: 'status', delayMs: 5, status: 503 },
      { attempt: 2, reason: 'status', delayMs: 10, status: 503 },
    ]);
  });

  it('does not retry a 5xx when not idempotent', async () => {
    const s = await server((_hit, _req, res) => {
      res.statusCode = 500;
      res.end('<SIMPLE_RETURN><RESPONSE><CODE>999</CODE></RESPONSE></SIMPLE_RETURN>');
    });
    const err = await httpError(client().send({ method: 'POST', url: `${s.url}/msp/user.php`, headers: form, body: 'action=add' }, { idempotent: false }));
    expect(err).toMatchObject({ kind: 'status', code: 'http-status', status: 500, attempts: 1, retryable: true });
    expect(err.body).toContain('<CODE>999</CODE>');
    expect(s.hits).toHaveLength(1);
  });

  it('gives up on a 5xx after the last attempt', async () => {
    const s = await server((_hit, _req, res) => {
      res.statusCode = 502;
      res.end();
    });
    const err = await httpError(client().send({ method: 'GET', url: `${s.url}/`, headers: {} }, { idempotent: true }));
    expect(err).toMatchObject({ kind: 'status', status: 502, attempts: 3 });
    expect(s.hits).toHaveLength(3);
  });

  it('does not retry other 4xx', async () => {
    const s = await server((_hit, _req, res) => {
      res.statusCode = 400;
      res.end('bad');
    });
    const err = await httpError(client().send({ method: 'GET', url: `${s.url}/`, headers: {} }, { idempotent: true }));
    expect(err).toMatchObject({ kind: 'status', status: 400, attempts: 1, retryable: false, body: 'bad' });
    expect(s.hits).toHaveLength(1);
  });

  describe('connection dropped after the request arrived', () => {
    const dropFirst = () =>
      server((hit, req, res) => {
        if (hit.n === 1) req.socket.destroy();
        else res.end('ok');
      });

    it('retries an idempotent call', async () => {
      const s = await dropFirst();
      const res = await client().send({ method: 'GET', url: `${s.url}/`, headers: {} }, { idempotent: true });
      expect(res).toMatchObject({ status: 200, attempts: 2 });
      expect(s.hits).toHaveLength(2);
    });

    it('fails a non-idempotent call as maybe-sent after exactly one request', async () => {
      const s = await dropFirst();
      const err = await httpError(client().send({ method: 'POST', url: `${s.url}/msp/user.php`, headers: form, body: 'action=add' }, { idempotent: false }));
      expect(err).toMatchObject({ kind: 'maybe-sent', code: 'http-maybe-sent', attempts: 1, retryable: false });
      expect(s.hits).toHaveLength(1);
    });
  });

  it.each([true, false])('retries a refused connection (idempotent: %s)', async (idempotent) => {
    const port = await closedPort();
    const codes: Array<string | undefined> = [];
    const err = await httpError(
      client().send({ method: 'POST', url: `http://127.0.0.1:${port}/msp/user.php`, headers: form, body: 'a=1' }, { idempotent, onRetry: (e) => codes.push(e.code) }),
    );
    expect(err).toMatchObject({ kind: 'network', code: 'http-network', attempts: 3, retryable: true });
    expect(codes).toEqual(['ECONNREFUSED', 'ECONNREFUSED']);
  });

  describe('409 limit blocks', () => {
    const rateBlock = (toWait: string | null) => (res: import('node:http').ServerResponse) => {
      res.statusCode = 409;
      res.setHeader('X-RateLimit-Limit', '300');
      res.setHeader('X-RateLimit-Window-Sec', '3600');
      res.setHeader('X-RateLimit-Remaining', '0');
      if (toWait !== null) res.setHeader('X-RateLimit-ToWait-Sec', toWait);
      res.end('<GENERIC_RETURN><RETURN status="FAILED" number="1965">This API cannot be run again for another 0 hours, 0 minutes and 1 seconds.</RETURN></GENERIC_RETURN>');
    };

    it('waits X-RateLimit-ToWait-Sec, then succeeds, also when not idempotent', async () => {
      const s = await server((hit, _req, res) => (hit.n === 1 ? rateBlock('1')(res) : res.end('ok')));
      const c = client();
      const t0 = performance.now();
      const res = await c.send({ method: 'POST', url: `${s.url}/msp/user.php`, headers: form, body: 'action=add' }, { idempotent: false, limiterKey: 'qualys:user.php' });
      expect(performance.now() - t0).toBeGreaterThanOrEqual(950);
      expect(res).toMatchObject({ status: 200, attempts: 2 });
      expect(res.waitedMs).toBeGreaterThanOrEqual(950);
      expect(s.hits).toHaveLength(2);
      expect(c.limiter.stats('qualys:user.php').blocked409).toBe(1);
    });

    it('uses the backoff when neither ToWait nor the body says how long', async () => {
      const bare = (res: import('node:http').ServerResponse) => {
        res.statusCode = 409;
        res.setHeader('X-RateLimit-Remaining', '0');
        res.end('<GENERIC_RETURN><RETURN status="FAILED" number="1965">This API cannot be run again</RETURN></GENERIC_RETURN>');
      };
      const s = await server((hit, _req, res) => (hit.n === 1 ? bare(res) : res.end('ok')));
      const events: unknown[] = [];
      const res = await client({ retry: { backoffMs: 100, maxBackoffMs: 1000 } }).send(
        { method: 'POST', url: `${s.url}/msp/user.php`, headers: form, body: 'action=add' },
        { idempotent: false, onRetry: (e) => events.push(e) },
      );
      expect(res.attempts).toBe(2);
      expect(events).toEqual([{ attempt: 1, reason: 'limit', delayMs: 50, status: 409 }]);
    });

    it('waits what the body says when the header is missing (0 hours, 0 minutes and 1 seconds)', async () => {
      const s = await server((hit, _req, res) => (hit.n === 1 ? rateBlock(null)(res) : res.end('ok')));
      const events: Array<{ delayMs: number }> = [];
      const res = await client({ retry: { backoffMs: 100, maxBackoffMs: 1000 } }).send(
        { method: 'POST', url: `${s.url}/msp/user.php`, headers: form, body: 'action=add' },
        { idempotent: false, onRetry: (e) => events.push(e as { delayMs: number }) },
      );
      expect(res.attempts).toBe(2);
      expect(events).toHaveLength(1);
      expect(events[0]!.delayMs).toBeGreaterThanOrEqual(1000);
    });

    it('fails with kind limit after the last attempt', async () => {
      const s = await server((_hit, _req, res) => rateBlock(null)(res));
      const err = await httpError(client().send({ method: 'GET', url: `${s.url}/msp/user_list.php`, headers: {} }, { idempotent: true }));
      expect(err).toMatchObject({ kind: 'limit', code: 'http-limit', status: 409, attempts: 3, retryable: true });
      expect(err.message).toContain('rate limit (HTTP 409, code 1965) after 3 attempts');
      expect(s.hits).toHaveLength(3);
    });

    it('fails at once when the vendor asks for a wait longer than maxLimitWaitMs, and pauses the key', async () => {
      const s = await server((_hit, _req, res) => rateBlock('68928')(res));
      const c = client();
      const send = () => c.send({ method: 'GET', url: `${s.url}/msp/user_list.php`, headers: {} }, { idempotent: true, limiterKey: 'qualys:user_list.php' });
      const err = await httpError(send());
      expect(err).toMatchObject({ kind: 'limit', attempts: 1, retryAfterMs: 68_928_000 });
      expect(err.message).toContain('retry after 68928 s');
      const again = await httpError(send());
      expect(again).toMatchObject({ kind: 'limit', attempts: 0 });
      expect(s.hits).toHaveLength(1);
    });

    it('treats a 409 naming another vendor code as an ordinary error', async () => {
      const s = await server((_hit, _req, res) => {
        res.statusCode = 409;
        res.setHeader('X-RateLimit-Remaining', '299');
        res.end('<GENERIC_RETURN><RETURN status="FAILED" number="2003">Registration must be completed</RETURN></GENERIC_RETURN>');
      });
      const err = await httpError(client().send({ method: 'GET', url: `${s.url}/`, headers: {} }, { idempotent: true }));
      expect(err).toMatchObject({ kind: 'status', status: 409, attempts: 1 });
    });
  });

  describe('timeouts', () => {
    const hangFirst = () =>
      server((hit, _req, res) => {
        if (hit.n > 1) res.end('ok');
      });

    it('retries a headers timeout when idempotent', async () => {
      const s = await hangFirst();
      const res = await client({ headersTimeoutMs: 150 }).send({ method: 'GET', url: `${s.url}/`, headers: {} }, { idempotent: true });
      expect(res).toMatchObject({ status: 200, attempts: 2 });
    });

    it('reports kind timeout when attempts run out', async () => {
      const s = await server(() => undefined);
      const err = await httpError(client({ headersTimeoutMs: 100 }).send({ method: 'GET', url: `${s.url}/`, headers: {} }, { idempotent: true, retry: { attempts: 1 } }));
      expect(err).toMatchObject({ kind: 'timeout', code: 'http-timeout', attempts: 1 });
      expect(err.message).toContain('UND_ERR_HEADERS_TIMEOUT');
    });

    it('fails a non-idempotent call as maybe-sent on a headers timeout', async () => {
      const s = await hangFirst();
      const err = await httpError(client({ headersTimeoutMs: 150 }).send({ method: 'POST', url: `${s.url}/`, headers: form, body: 'a=1' }, { idempotent: false }));
      expect(err).toMatchObject({ kind: 'maybe-sent', attempts: 1 });
      expect(s.hits).toHaveLength(1);
    });

    it('applies the per-attempt timeoutMs to a slow body', async () => {
      const s = await server((_hit, _req, res) => {
        res.write('<partial');
      });
      const err = await httpError(client().send({ method: 'GET', url: `${s.url}/`, headers: {} }, { idempotent: true, timeoutMs: 150, retry: { attempts: 1 } }));
      expect(err).toMatchObject({ kind: 'timeout', attempts: 1 });
    });
  });

  describe('body cap', () => {
    it.each([
      ['streamed', false],
      ['declared in Content-Length', true],
    ])('fails with body-too-large when %s, and discards the connection', async (_name, declare) => {
      const big = 'x'.repeat(64 * 1024);
      const s = await server((hit, _req, res) => {
        if (hit.url === '/small') return void res.end('ok');
        if (declare) res.setHeader('Content-Length', String(big.length * 4));
        for (let i = 0; i < 4; i++) res.write(big);
        res.end();
      });
      const c = client({ maxBodyBytes: 100_000 });
      const err = await httpError(c.send({ method: 'GET', url: `${s.url}/big`, headers: {} }, { idempotent: true }));
      expect(err).toMatchObject({ kind: 'body-too-large', code: 'http-body-too-large', status: 200, attempts: 1 });
      expect(s.hits).toHaveLength(1);
      await s.hits[0]!.socketClosed; // the connection was not kept for reuse (the test would time out)
      const res = await c.send({ method: 'GET', url: `${s.url}/small`, headers: {} }, { idempotent: true });
      expect(res.body).toBe('ok');
    });
  });

  describe('abort', () => {
    it('does not send when the signal is already aborted', async () => {
      const s = await server((_hit, _req, res) => res.end('ok'));
      const err = await httpError(client().send({ method: 'GET', url: `${s.url}/`, headers: {} }, { idempotent: true, signal: AbortSignal.abort() }));
      expect(err).toMatchObject({ kind: 'aborted', code: 'http-aborted', attempts: 0 });
      expect(s.hits).toHaveLength(0);
    });

    it('stops a backoff wait', async () => {
      const s = await server((_hit, _req, res) => {
        res.statusCode = 503;
        res.end();
      });
      const ac = new AbortController();
      const err = await httpError(
        client({ retry: { backoffMs: 60_000, maxBackoffMs: 60_000 } }).send({ method: 'GET', url: `${s.url}/`, headers: {} }, { idempotent: true, signal: ac.signal, onRetry: () => ac.abort() }),
      );
      expect(err).toMatchObject({ kind: 'aborted', attempts: 1 });
    });

    it('stops a wait for a paused limiter key', async () => {
      const s = await server((_hit, _req, res) => {
        res.statusCode = 409;
        res.setHeader('X-RateLimit-Remaining', '0');
        res.setHeader('X-RateLimit-ToWait-Sec', '60');
        res.end('<SIMPLE_RETURN><RESPONSE><CODE>1965</CODE></RESPONSE></SIMPLE_RETURN>');
      });
      const ac = new AbortController();
      const c = client();
      const err = await httpError(c.send({ method: 'GET', url: `${s.url}/`, headers: {} }, { idempotent: true, limiterKey: 'k', signal: ac.signal, onRetry: () => ac.abort() }));
      expect(err).toMatchObject({ kind: 'aborted', attempts: 1 });
      expect(c.limiter.stats('k')).toMatchObject({ inFlight: 0, queued: 0 });
    });

    it('reports an abort in flight as aborted when idempotent and maybe-sent when not', async () => {
      const ac = { current: new AbortController() };
      const s = await server(() => ac.current.abort()); // never answers
      const c = client();
      const idem = await httpError(c.send({ method: 'GET', url: `${s.url}/`, headers: {} }, { idempotent: true, signal: ac.current.signal }));
      expect(idem).toMatchObject({ kind: 'aborted', attempts: 1 });
      ac.current = new AbortController();
      const nonIdem = await httpError(c.send({ method: 'POST', url: `${s.url}/`, headers: form, body: 'a=1' }, { idempotent: false, signal: ac.current.signal }));
      expect(nonIdem).toMatchObject({ kind: 'maybe-sent', attempts: 1 });
    });
  });

  describe('error messages', () => {
    const secretUrl = (base: string) => base.replace('http://', 'http://apiuser:s3cr3t-pw@') + '/msp/user.php?action=add&user_password=hunter2';
    const auth = 'Basic dXNlcjpzZWNyZXQtdG9rZW4=';
    const assertClean = (err: HttpError, base: string) => {
      expect(err.message).toContain(`POST ${base}/msp/user.php`);
      for (const leak of ['hunter2', 'action=', '?', 's3cr3t', 'apiuser', 'dXNlcjpzZWNyZXQtdG9rZW4=', 'Basic', 'login=secret']) {
        expect(err.message).not.toContain(leak);
      }
      expect(err.message).not.toContain('\n');
    };

    it('names method and URL without query string, credentials, headers or body', async () => {
      const s = await server((hit, req, res) => {
        if (hit.n === 1) return void req.socket.destroy();
        res.statusCode = 400;
        res.end('login=secret');
      });
      const c = client();
      const req = { method: 'post', url: secretUrl(s.url), headers: { Authorization: auth, ...form }, body: 'login=secret' };
      assertClean(await httpError(c.send(req, { idempotent: false })), s.url);
      assertClean(await httpError(c.send(req, { idempotent: false })), s.url);
      const port = await closedPort();
      const refused = await httpError(c.send({ ...req, url: secretUrl(`http://127.0.0.1:${port}`) }, { idempotent: false }));
      assertClean(refused, `http://127.0.0.1:${port}`);
    });

    it('turns URL user info into Basic auth', async () => {
      const s = await server((_hit, _req, res) => res.end('ok'));
      await client().send({ method: 'GET', url: s.url.replace('http://', 'http://a%40b:p%3Aw@') + '/', headers: {} }, { idempotent: true });
      expect(s.hits[0]!.headers.authorization).toBe(`Basic ${Buffer.from('a@b:p:w').toString('base64')}`);
    });
  });

  it('shares one limiter passed in by the caller', async () => {
    const limiter = new Limiter();
    const c = client({ limiter });
    expect(c.limiter).toBe(limiter);
  });
});
