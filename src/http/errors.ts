// Errors of the HTTP layer. One class with a `kind` the engine switches on, and a stable code per
// kind. Messages name the method and the URL without query string or credentials, and never
// carry request headers or bodies (the Authorization header and form bodies hold secrets).
import { SkeinError } from '../errors.js';

export type HttpErrorKind = 'network' | 'timeout' | 'status' | 'limit' | 'body-too-large' | 'maybe-sent' | 'aborted';

const CODES: Record<HttpErrorKind, string> = {
  network: 'http-network',
  timeout: 'http-timeout',
  status: 'http-status',
  limit: 'http-limit',
  'body-too-large': 'http-body-too-large',
  'maybe-sent': 'http-maybe-sent',
  aborted: 'http-aborted',
};

export interface HttpErrorInit {
  /** Sends made, the failing one included (0 when the call never got a connection slot). */
  attempts: number;
  status?: number;
  /** Response headers, lower-cased. */
  headers?: Record<string, string>;
  /** Response body (capped), for the caller to parse vendor error codes. */
  body?: string;
  /** For `limit`: how long the vendor asked to wait before trying again. */
  retryAfterMs?: number;
  retryable?: boolean;
  cause?: unknown;
  /** For transport failures: the error code (`UND_ERR_SOCKET`, `SKEIN_ATTEMPT_TIMEOUT`) and whether it was a timeout. */
  transport?: { code: string; timeout: boolean };
}

export class HttpError extends SkeinError {
  readonly kind: HttpErrorKind;
  readonly attempts: number;
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly retryAfterMs?: number;
  readonly transport?: { code: string; timeout: boolean };

  constructor(kind: HttpErrorKind, message: string, init: HttpErrorInit) {
    super(CODES[kind], message, { cause: init.cause, retryable: init.retryable ?? false });
    this.name = 'HttpError';
    this.kind = kind;
    this.attempts = init.attempts;
    if (init.status !== undefined) this.status = init.status;
    if (init.headers !== undefined) this.headers = init.headers;
    if (init.body !== undefined) this.body = init.body;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.transport !== undefined) this.transport = init.transport;
  }
}

/** `POST https://qualysapi.qualys.com/msp/user.php`: no user info, query string or fragment. */
export function describeTarget(method: string, url: string): string {
  let shown: string;
  try {
    const u = new URL(url);
    shown = `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    shown = '<invalid URL>';
  }
  return `${method.toUpperCase()} ${shown}`;
}

/** `after 1 attempt` / `after 4 attempts`. */
export function attemptsText(n: number): string {
  return `after ${n} attempt${n === 1 ? '' : 's'}`;
}
