// The retry policy as pure functions: what one attempt's outcome means (accept, retry after a
// delay, or fail with which kind), decided from whether the call is idempotent and whether the
// request may have reached the server. No I/O and no clock, so every branch is a table test.
import type { HttpErrorKind } from './errors.js';
import { limitBlock, type LimitBlock } from './limit-headers.js';

export interface RetryPolicy {
  /** Total sends including the first; 1 disables retries. Default 4. */
  attempts: number;
  /** First backoff ceiling, doubled per retry; the wait is random below it (full jitter). Default 500 ms. */
  backoffMs: number;
  /** Cap on the backoff ceiling. Default 60 000 ms. */
  maxBackoffMs: number;
  /** Random extra wait on top of a vendor-given wait (X-RateLimit-ToWait-Sec). Default 500 ms. */
  limitJitterMs: number;
  /**
   * Longest vendor-requested wait honoured in-process. A longer one (Qualys can say 19 hours)
   * fails at once with kind `limit` and `retryAfterMs`, so the caller can reschedule. Default 5 min.
   */
  maxLimitWaitMs: number;
}

export const DEFAULT_RETRY: Readonly<RetryPolicy> = {
  attempts: 4,
  backoffMs: 500,
  maxBackoffMs: 60_000,
  limitJitterMs: 500,
  maxLimitWaitMs: 300_000,
};

/** Full-jitter exponential backoff for retry number `n` (0 for the first retry). */
export function backoffDelay(n: number, policy: Pick<RetryPolicy, 'backoffMs' | 'maxBackoffMs'>, random: () => number): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** Math.max(0, n));
  return Math.floor(random() * ceiling);
}

/** A transport failure, reduced to what the policy needs. */
export interface TransportFailure {
  /** `no`: failed before the request was handed to a connected socket. `maybe`: it may have reached the server. */
  sent: 'no' | 'maybe';
  /** A connect, headers, body or attempt timeout. */
  timeout: boolean;
  /** Worth trying again (false for e.g. TLS certificate errors or invalid arguments). */
  transient: boolean;
  /** Error code for messages, e.g. `ECONNREFUSED`, `UND_ERR_SOCKET`. */
  code: string;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT', 'SKEIN_ATTEMPT_TIMEOUT']);
const TRANSIENT_CONNECT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH',
  'ENETDOWN', 'EPIPE', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'SKEIN_ATTEMPT_TIMEOUT',
]);

export function errorCode(error: unknown): string {
  if (typeof error !== 'object' || error === null) return 'UNKNOWN';
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code !== '') return code;
  const inner = (error as { errors?: unknown }).errors; // AggregateError from happy eyeballs
  if (Array.isArray(inner) && inner.length > 0) return errorCode(inner[0]);
  return 'UNKNOWN';
}

/**
 * `dispatched` is true once undici handed the request to a connected socket: from then on any
 * failure may come after the server got it. Before that (refused, DNS, connect timeout) it never left.
 */
export function describeTransportError(error: unknown, dispatched: boolean): TransportFailure {
  const code = errorCode(error);
  const timeout = TIMEOUT_CODES.has(code);
  if (dispatched) return { sent: 'maybe', timeout, transient: true, code };
  return { sent: 'no', timeout, transient: TRANSIENT_CONNECT_CODES.has(code), code };
}

export type AttemptOutcome =
  | { type: 'response'; status: number; headers: Record<string, string>; body: string }
  | { type: 'transport'; failure: TransportFailure };

export interface RetryContext {
  idempotent: boolean;
  /** Sends made so far, this one included (1-based). */
  attempt: number;
  policy: RetryPolicy;
  random: () => number;
}

export type RetryReason = 'limit' | 'status' | 'network' | 'timeout';

export type RetryVerdict =
  | { action: 'accept' }
  | { action: 'retry'; reason: RetryReason; delayMs: number; block?: LimitBlock }
  | { action: 'fail'; kind: HttpErrorKind; retryable: boolean; block?: LimitBlock; retryAfterMs?: number };

/** Decides what to do after one attempt. */
export function classifyAttempt(outcome: AttemptOutcome, ctx: RetryContext): RetryVerdict {
  const { policy, attempt } = ctx;
  const attemptsLeft = attempt < policy.attempts;
  const backoff = (): number => backoffDelay(attempt - 1, policy, ctx.random);

  if (outcome.type === 'response') {
    const { status } = outcome;
    if (status < 400) return { action: 'accept' };
    const block = limitBlock(status, outcome.headers, outcome.body);
    if (block) {
      // A limit block guarantees the call did not run: retryable even when not idempotent.
      const delayMs = block.toWaitMs !== undefined ? block.toWaitMs + Math.floor(ctx.random() * policy.limitJitterMs) : backoff();
      if (!attemptsLeft || delayMs > policy.maxLimitWaitMs) {
        return { action: 'fail', kind: 'limit', retryable: true, block, retryAfterMs: delayMs };
      }
      return { action: 'retry', reason: 'limit', delayMs, block };
    }
    const serverError = status >= 500;
    if (serverError && ctx.idempotent && attemptsLeft) return { action: 'retry', reason: 'status', delayMs: backoff() };
    return { action: 'fail', kind: 'status', retryable: serverError };
  }

  const f = outcome.failure;
  const kind: HttpErrorKind = f.timeout ? 'timeout' : 'network';
  if (f.sent === 'maybe' && !ctx.idempotent) return { action: 'fail', kind: 'maybe-sent', retryable: false };
  if (!f.transient) return { action: 'fail', kind, retryable: false };
  if (attemptsLeft) return { action: 'retry', reason: kind, delayMs: backoff() };
  return { action: 'fail', kind, retryable: true };
}
