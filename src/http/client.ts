// The HTTP client every vendor call goes through: one keep-alive undici Pool per origin, the retry
// policy of retry.ts, and the shared per-key Limiter. It never retries a call that may have run
// unless the caller said it is idempotent; such failures come back as kind `maybe-sent`.
import { createRequire } from 'node:module';
import type { Dispatcher, Pool as PoolType } from 'undici';
// undici's index loads every part of it (fetch, WebSocket, mocks, cookies...): about 50 ms of a
// CLI run's start-up. The client needs only the Pool (the same module the index re-exports).
const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof PoolType;
type Pool = PoolType;
import { abortReason, sleep } from './delay.js';
import { attemptsText, describeTarget, HttpError, type HttpErrorInit, type HttpErrorKind } from './errors.js';
import { exchange, type ExchangeOutcome } from './exchange.js';
import { LimitWaitError, Limiter, type CallLimiter, type Release } from './limiter.js';
import { classifyAttempt, DEFAULT_RETRY, describeTransportError, type RetryPolicy, type RetryReason, type RetryVerdict, type TransportFailure } from './retry.js';

export interface HttpRequest {
  method: string;
  /** Absolute URL. User info (`https://user:pass@host`) becomes Basic auth unless an Authorization header is given. */
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpResponse {
  status: number;
  /** Lower-cased names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  body: string;
  /** Sends made, this successful one included. */
  attempts: number;
  durationMs: number;
  /** Time spent waiting on the limiter and between attempts. */
  waitedMs: number;
}

export interface RetryEvent {
  /** The attempt that failed (1-based). */
  attempt: number;
  reason: RetryReason;
  delayMs: number;
  status?: number;
  /** Transport error code, e.g. `ECONNREFUSED`. */
  code?: string;
}

export interface SendOptions {
  /** Whether repeating the call is harmless. Decides retries after failures that may have reached the server. */
  idempotent: boolean;
  /** Limiter key, e.g. `qualys:user.php` (credential name + vendor script). Without one the limiter is bypassed. */
  limiterKey?: string;
  /** Time limit for one attempt, headers and body included (0 = none). Default none. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Overrides the client's retry policy for this call. */
  retry?: Partial<RetryPolicy>;
  /** Overrides the client's body cap for this call. */
  maxBodyBytes?: number;
  /** Called before each retry wait, for logs and metrics. */
  onRetry?: (event: RetryEvent) => void;
}

export interface HttpClientOptions {
  /** Connections per origin. Default 16. */
  connections?: number;
  /** Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Time to wait for response headers once the request is sent. Default 60 000 ms. */
  headersTimeoutMs?: number;
  /** Longest gap between body chunks. Default 60 000 ms. */
  bodyTimeoutMs?: number;
  /** Idle keep-alive socket lifetime when the server does not say. Default 4 000 ms. */
  keepAliveTimeoutMs?: number;
  /** Response bodies larger than this fail with `body-too-large`. Default 5 MiB. */
  maxBodyBytes?: number;
  retry?: Partial<RetryPolicy>;
  /** Shared limiter; the daemon passes one for all workflows. Default a new in-memory `Limiter`. */
  limiter?: CallLimiter;
  /** Random source in [0, 1) for jitter. Default `Math.random`. */
  random?: () => number;
  /**
   * Sends every request through this undici dispatcher instead of the client's own per-origin
   * pools; the connection options above then do not apply, and close() leaves it open (its owner
   * closes it). `skein test` passes an undici MockAgent with net connect disabled, so canned
   * answers go through the real retry, limiter and response code without any network.
   */
  dispatcher?: Dispatcher;
}

export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;

export class HttpClient {
  readonly limiter: CallLimiter;
  readonly #pools = new Map<string, Pool>();
  readonly #opts: Required<Omit<HttpClientOptions, 'limiter' | 'retry' | 'dispatcher'>>;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #routes = new Map<string, Dispatcher>();
  readonly #retry: RetryPolicy;
  #closed = false;

  constructor(opts: HttpClientOptions = {}) {
    this.limiter = opts.limiter ?? new Limiter();
    this.#retry = { ...DEFAULT_RETRY, ...defined(opts.retry ?? {}) };
    this.#dispatcher = opts.dispatcher;
    this.#opts = {
      connections: opts.connections ?? 16,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      headersTimeoutMs: opts.headersTimeoutMs ?? 60_000,
      bodyTimeoutMs: opts.bodyTimeoutMs ?? 60_000,
      keepAliveTimeoutMs: opts.keepAliveTimeoutMs ?? 4_000,
      maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      random: opts.random ?? Math.random,
    };
  }

  /** Sends `req`, retrying per the policy; resolves with a 2xx/3xx response or throws `HttpError`. */
  async send(req: HttpRequest, opts: SendOptions): Promise<HttpResponse> {
    const started = performance.now();
    // Only error messages name the target: described on first use.
    let target: string | undefined;
    const policy: RetryPolicy = opts.retry ? { ...this.#retry, ...defined(opts.retry) } : this.#retry;
    const key = opts.limiterKey;
    const signal = opts.signal;
    let attempts = 0;
    let waitedMs = 0;

    const fail = (kind: HttpErrorKind, detail: string, extra: Omit<HttpErrorInit, 'attempts'> = {}): HttpError =>
      new HttpError(kind, `${(target ??= describeTarget(req.method, req.url))}: ${detail}`, { attempts, ...extra });
    const aborted = (reason: unknown): HttpError => fail('aborted', `aborted ${attemptsText(attempts)}`, { cause: reason });

    if (this.#closed) throw fail('aborted', 'the HTTP client is closed');
    let url: Target;
    try {
      url = parseTarget(req.url);
    } catch (cause) {
      throw fail('network', 'invalid URL', { cause });
    }
    const headers = requestHeaders(req.headers, url);
    const pool = this.#dispatcher ? this.#routed(url.origin) : this.#pool(url.origin);

    for (;;) {
      if (signal?.aborted) throw aborted(abortReason(signal));
      let release: Release | undefined;
      if (key !== undefined) {
        const pausedUntil = this.limiter.stats(key).pausedUntil;
        if (pausedUntil !== null && pausedUntil - Date.now() > policy.maxLimitWaitMs) {
          const retryAfterMs = pausedUntil - Date.now();
          throw fail('limit', `${key} is paused by the vendor limit for ${Math.ceil(retryAfterMs / 1000)} s`, { retryAfterMs, retryable: true });
        }
        const t0 = performance.now();
        try {
          release = await this.limiter.acquire(key, signal, policy.maxLimitWaitMs);
        } catch (cause) {
          if (cause instanceof LimitWaitError) {
            const s = Math.ceil(cause.retryAfterMs / 1000);
            // A call refused after queueing has used part of its budget: say so, or "60 s is
            // longer than 300 s" reads as nonsense.
            const queued = Math.round((performance.now() - t0) / 1000);
            const already = queued >= 1 ? ` (this call has already waited ${queued} s)` : '';
            throw fail('limit', `${key}: the vendor's rate limit lets the next call go in ${s} s${already}, past the ${Math.round(policy.maxLimitWaitMs / 1000)} s a call waits; retry later`, { retryAfterMs: cause.retryAfterMs, retryable: true });
          }
          throw aborted(cause);
        } finally {
          waitedMs += performance.now() - t0;
        }
      }

      attempts++;
      const outcome = await exchange(pool, {
        method: req.method.toUpperCase(),
        path: url.path,
        headers,
        ...(req.body !== undefined ? { body: req.body } : {}),
        headersTimeoutMs: this.#opts.headersTimeoutMs,
        bodyTimeoutMs: this.#opts.bodyTimeoutMs,
        timeoutMs: opts.timeoutMs ?? 0,
        maxBodyBytes: opts.maxBodyBytes ?? this.#opts.maxBodyBytes,
        ...(signal ? { signal } : {}),
      });

      if (outcome.type === 'aborted' || outcome.type === 'too-large') {
        release?.(outcome.type === 'too-large' ? outcome.headers : undefined);
        if (outcome.type === 'too-large') {
          throw fail('body-too-large', `response body exceeds ${outcome.limit} bytes (HTTP ${outcome.status})`, { status: outcome.status, headers: outcome.headers });
        }
        if (outcome.dispatched && !opts.idempotent) {
          throw fail('maybe-sent', 'aborted after the request was sent; it may have been processed and is not safe to repeat', { cause: outcome.reason });
        }
        throw aborted(outcome.reason);
      }

      const failure: TransportFailure | undefined = outcome.type === 'transport' ? describeTransportError(outcome.error, outcome.dispatched) : undefined;
      const verdict = classifyAttempt(
        outcome.type === 'response' ? outcome : { type: 'transport', failure: failure! },
        { idempotent: opts.idempotent, attempt: attempts, policy, random: this.#opts.random },
      );
      const block = verdict.action === 'accept' ? undefined : verdict.block;
      // With a limiter the wait after a block is a pause of the whole key, shared by all its callers
      // (also when this call gives up, so the others do not each run into the block).
      const sharedWait = block !== undefined && key !== undefined && verdict.action === 'retry';
      const pauseMs = sharedWait ? verdict.delayMs : block?.toWaitMs;
      release?.(outcome.type === 'response' ? outcome.headers : undefined, {
        blocked: block !== undefined,
        notSent: failure?.sent === 'no',
        ...(pauseMs !== undefined ? { pauseMs } : {}),
      });

      if (verdict.action === 'accept') {
        const r = outcome as Extract<ExchangeOutcome, { type: 'response' }>;
        return { status: r.status, headers: r.headers, body: r.body, attempts, durationMs: performance.now() - started, waitedMs };
      }
      if (verdict.action === 'fail') {
        throw failureError((target ??= describeTarget(req.method, req.url)), attempts, verdict, outcome, failure);
      }

      const status = outcome.type === 'response' ? outcome.status : undefined;
      opts.onRetry?.({ attempt: attempts, reason: verdict.reason, delayMs: verdict.delayMs, ...(status !== undefined ? { status } : {}), ...(failure ? { code: failure.code } : {}) });
      if (!sharedWait) {
        const t0 = performance.now();
        try {
          await sleep(verdict.delayMs, signal);
        } catch (cause) {
          throw aborted(cause);
        } finally {
          waitedMs += performance.now() - t0;
        }
      }
    }
  }

  /** Closes every pool, waiting for requests in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  /** Closes every pool at once, aborting requests in flight (a deadline passed). */
  async destroy(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.destroy()));
  }

  /** The injected dispatcher, told the origin (an Agent routes by it; exchange() sends only the path). */
  #routed(origin: string): Dispatcher {
    let d = this.#routes.get(origin);
    if (!d) {
      d = this.#dispatcher!.compose((dispatch) => (opts, handler) => dispatch({ ...opts, origin }, handler));
      this.#routes.set(origin, d);
    }
    return d;
  }

  #pool(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.#opts.connections,
        connect: { timeout: this.#opts.connectTimeoutMs },
        headersTimeout: this.#opts.headersTimeoutMs,
        bodyTimeout: this.#opts.bodyTimeoutMs,
        keepAliveTimeout: this.#opts.keepAliveTimeoutMs,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }
}

/** The error for a `fail` verdict. Only codes and statuses go in the message, never headers or bodies. */
function failureError(
  target: string,
  attempts: number,
  verdict: Extract<RetryVerdict, { action: 'fail' }>,
  outcome: Extract<ExchangeOutcome, { type: 'response' | 'transport' }>,
  failure: TransportFailure | undefined,
): HttpError {
  const { kind, retryable, block, retryAfterMs } = verdict;
  const make = (detail: string, extra: Omit<HttpErrorInit, 'attempts'>): HttpError =>
    new HttpError(kind, `${target}: ${detail}`, { attempts, retryable, ...extra });
  if (outcome.type === 'response') {
    const extra = { status: outcome.status, headers: outcome.headers, body: outcome.body };
    if (kind !== 'limit') return make(`HTTP ${outcome.status} ${attemptsText(attempts)}`, extra);
    const which = block?.code === 1960 ? 'concurrency limit' : block?.code === 1965 ? 'rate limit' : 'limit';
    const code = block?.code !== undefined ? `, code ${block.code}` : '';
    const after = retryAfterMs !== undefined ? `; retry after ${Math.ceil(retryAfterMs / 1000)} s` : '';
    return make(`blocked by the vendor ${which} (HTTP ${outcome.status}${code}) ${attemptsText(attempts)}${after}`, {
      ...extra,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
  const f = failure!;
  const cause = outcome.error;
  const transport = { code: f.code, timeout: f.timeout };
  if (kind === 'maybe-sent') {
    const what = f.timeout ? 'timed out' : 'lost the connection';
    return make(`${what} after the request was sent (${f.code}); it may have been processed and is not safe to repeat`, { cause, transport });
  }
  return make(`${f.timeout ? 'timed out' : 'connection failed'} (${f.code}) ${attemptsText(attempts)}`, { cause, transport });
}

/** The parts of a request URL the client uses. */
interface Target {
  origin: string;
  /** Path plus query string. */
  path: string;
  username: string;
  password: string;
}

/** Parsed URLs by text: a run sends most of its calls to a few URLs (the login goes in the form). */
const targets = new Map<string, Target>();

/** Parses `raw` (cached); throws like `new URL` when it is not an absolute URL. */
function parseTarget(raw: string): Target {
  let t = targets.get(raw);
  if (!t) {
    const u = new URL(raw);
    t = { origin: u.origin, path: u.pathname + u.search, username: u.username, password: u.password };
    if (targets.size >= 1000) targets.clear();
    targets.set(raw, t);
  }
  return t;
}

/** Lower-cased request headers; URL user info becomes Basic auth. */
function requestHeaders(given: Record<string, string>, url: Target): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(given)) out[k.toLowerCase()] = v;
  if ((url.username || url.password) && out.authorization === undefined) {
    const user = decodeURIComponent(url.username);
    const pass = decodeURIComponent(url.password);
    out.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  }
  return out;
}

function defined<T extends object>(o: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out as Partial<T>;
}
