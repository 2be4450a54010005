// The HTTP layer: client, errors, retry policy and limiter.
export { DEFAULT_MAX_BODY_BYTES, HttpClient } from './client.js';
export type { HttpClientOptions, HttpRequest, HttpResponse, RetryEvent, SendOptions } from './client.js';
export { describeTarget, HttpError } from './errors.js';
export type { HttpErrorInit, HttpErrorKind } from './errors.js';
export { hasLimitHeaders, LIMIT_CODES, limitBlock, parseLimitHeaders, vendorErrorCode } from './limit-headers.js';
export type { LimitBlock, LimitSignals } from './limit-headers.js';
export { LimitWaitError, Limiter } from './limiter.js';
export type { CallLimiter, LimiterOptions, LimiterStats, Release, ReleaseOutcome } from './limiter.js';
export { DEFAULT_LIMITER_CONFIG } from './limiter-policy.js';
export type { KeyLimitState, LimiterConfig } from './limiter-policy.js';
export { backoffDelay, classifyAttempt, DEFAULT_RETRY, describeTransportError } from './retry.js';
export type { AttemptOutcome, RetryContext, RetryPolicy, RetryReason, RetryVerdict, TransportFailure } from './retry.js';
