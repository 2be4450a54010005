// The retry policy as table tests: backoff, and the verdict for each kind of outcome.
import { describe, expect, it } from 'vitest';
import { backoffDelay, classifyAttempt, DEFAULT_RETRY, describeTarget, describeTransportError, limitBlock, vendorErrorCode, type AttemptOutcome, type RetryVerdict } from '../../src/http/index.js';

const policy = { ...DEFAULT_RETRY, attempts: 3, backoffMs: 100, maxBackoffMs: 1000, limitJitterMs: 400, maxLimitWaitMs: 60_000 };
const half = () => 0.5;

const limitHeaders = { 'x-ratelimit-limit': '300', 'x-ratelimit-window-sec': '3600', 'x-ratelimit-remaining': '0' };
const v1Block = (code: number) => `<GENERIC_RETURN><RETURN status="FAILED" number="${code}">This API cannot be run again</RETURN></GENERIC_RETURN>`;
const v2Block = (code: number) => `<SIMPLE_RETURN><RESPONSE><CODE>${code}</CODE><ITEM_LIST><ITEM><KEY>SECONDS_TO_WAIT</KEY><VALUE>7</VALUE></ITEM></ITEM_LIST></RESPONSE></SIMPLE_RETURN>`;
const res = (status: number, headers: Record<string, string> = {}, body = ''): AttemptOutcome => ({ type: 'response', status, headers, body });
const tx = (code: string, dispatched: boolean): AttemptOutcome => ({ type: 'transport', failure: describeTransportError(Object.assign(new Error('x'), { code }), dispatched) });

describe('backoffDelay', () => {
  it.each([
    [0, 50],
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 500],
    [9, 500],
  ])('retry %i waits %i ms at random 0.5 (base 100, cap 1000)', (n, ms) => {
    expect(backoffDelay(n, policy, half)).toBe(ms);
  });

  it('uses full jitter: anywhere from 0 to the ceiling', () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.999)).toBe(799);
  });
});

describe('classifyAttempt', () => {
  const cases: Array<[string, AttemptOutcome, boolean, number, RetryVerdict]> = [
    ['2xx', res(200), false, 1, { action: 'accept' }],
    ['3xx', res(302), false, 1, { action: 'accept' }],
    ['5xx, idempotent', res(503), true, 1, { action: 'retry', reason: 'status', delayMs: 50 }],
    ['5xx, idempotent, last attempt', res(503), true, 3, { action: 'fail', kind: 'status', retryable: true }],
    ['5xx, not idempotent', res(500), false, 1, { action: 'fail', kind: 'status', retryable: true }],
    ['404', res(404), true, 1, { action: 'fail', kind: 'status', retryable: false }],
    ['409 without limit signs', res(409, {}, 'conflict'), true, 1, { action: 'fail', kind: 'status', retryable: false }],
    ['409 code 2003 with limit headers', res(409, limitHeaders, v1Block(2003)), true, 1, { action: 'fail', kind: 'status', retryable: false }],
    [
      '409 1965 with ToWait, not idempotent',
      res(409, { ...limitHeaders, 'x-ratelimit-towait-sec': '5' }, v1Block(1965)),
      false,
      1,
      { action: 'retry', reason: 'limit', delayMs: 5200, block: { status: 409, code: 1965, toWaitMs: 5000 } },
    ],
    ['409 1960 without ToWait: backoff', res(409, limitHeaders, v2Block(1960).replace(/<ITEM_LIST>.*<\/ITEM_LIST>/, '')), false, 2, { action: 'retry', reason: 'limit', delayMs: 100, block: { status: 409, code: 1960 } }],
    ['409 with only limit headers', res(409, limitHeaders), false, 1, { action: 'retry', reason: 'limit', delayMs: 50, block: { status: 409 } }],
    ['409 V2 body SECONDS_TO_WAIT', res(409, {}, v2Block(1965)), false, 1, { action: 'retry', reason: 'limit', delayMs: 7200, block: { status: 409, code: 1965, toWaitMs: 7000 } }],
    [
      '409 on the last attempt',
      res(409, { ...limitHeaders, 'x-ratelimit-towait-sec': '1' }, v1Block(1965)),
      false,
      3,
      { action: 'fail', kind: 'limit', retryable: true, block: { status: 409, code: 1965, toWaitMs: 1000 }, retryAfterMs: 1200 },
    ],
    [
      '409 asking for more than maxLimitWaitMs',
      res(409, { ...limitHeaders, 'x-ratelimit-towait-sec': '68928' }, v1Block(1965)),
      true,
      1,
      { action: 'fail', kind: 'limit', retryable: true, block: { status: 409, code: 1965, toWaitMs: 68_928_000 }, retryAfterMs: 68_928_200 },
    ],
    ['429 with Retry-After', res(429, { 'retry-after': '2' }), false, 1, { action: 'retry', reason: 'limit', delayMs: 2200, block: { status: 429, toWaitMs: 2000 } }],
    ['refused, not idempotent', tx('ECONNREFUSED', false), false, 1, { action: 'retry', reason: 'network', delayMs: 50 }],
    ['DNS failure', tx('ENOTFOUND', false), false, 1, { action: 'retry', reason: 'network', delayMs: 50 }],
    ['connect timeout', tx('UND_ERR_CONNECT_TIMEOUT', false), false, 2, { action: 'retry', reason: 'timeout', delayMs: 100 }],
    ['refused, last attempt', tx('ECONNREFUSED', false), false, 3, { action: 'fail', kind: 'network', retryable: true }],
    ['bad certificate', tx('CERT_HAS_EXPIRED', false), true, 1, { action: 'fail', kind: 'network', retryable: false }],
    ['reset after sending, idempotent', tx('UND_ERR_SOCKET', true), true, 1, { action: 'retry', reason: 'network', delayMs: 50 }],
    ['reset after sending, not idempotent', tx('ECONNRESET', true), false, 1, { action: 'fail', kind: 'maybe-sent', retryable: false }],
    ['headers timeout, not idempotent', tx('UND_ERR_HEADERS_TIMEOUT', true), false, 1, { action: 'fail', kind: 'maybe-sent', retryable: false }],
    ['body timeout, idempotent, last attempt', tx('UND_ERR_BODY_TIMEOUT', true), true, 3, { action: 'fail', kind: 'timeout', retryable: true }],
  ];

  it.each(cases)('%s', (_name, outcome, idempotent, attempt, verdict) => {
    expect(classifyAttempt(outcome, { idempotent, attempt, policy, random: half })).toEqual(verdict);
  });
});

describe('limit signals', () => {
  it('reads vendor codes from V1 and V2 bodies', () => {
    expect(vendorErrorCode(v1Block(1965))).toBe(1965);
    expect(vendorErrorCode(v2Block(1960))).toBe(1960);
    expect(vendorErrorCode('<USER_LIST_OUTPUT><ERROR number="1905">bad</ERROR></USER_LIST_OUTPUT>')).toBe(1905);
    expect(vendorErrorCode('<OK/>')).toBeUndefined();
  });

  it('reads the wait from the V1 text when the 409 has no ToWait header (reference 13.3, 13.4)', () => {
    const text = (t: string) => `<GENERIC_RETURN><RETURN status="FAILED" number="1965">This API cannot be run again for another ${t}.</RETURN></GENERIC_RETURN>`;
    expect(limitBlock(409, limitHeaders, text('0 hours, 54 minutes and 59 seconds'))).toEqual({ status: 409, code: 1965, toWaitMs: 3_299_000 });
    expect(limitBlock(409, limitHeaders, text('23 hours, 57 minutes and 54 seconds'))?.toWaitMs).toBe(86_274_000);
    expect(limitBlock(409, limitHeaders, text('1 day, 2 hours, 0 minutes and 1 second'))?.toWaitMs).toBe(93_601_000);
    // The header wins over the text; a text with no figures leaves the wait to backoff.
    expect(limitBlock(409, { ...limitHeaders, 'x-ratelimit-towait-sec': '181' }, text('0 hours, 54 minutes and 59 seconds'))?.toWaitMs).toBe(181_000);
    expect(limitBlock(409, limitHeaders, v1Block(1965))).toEqual({ status: 409, code: 1965 });
  });

  it('is not a block for other statuses', () => {
    expect(limitBlock(200, limitHeaders, '')).toBeNull();
    expect(limitBlock(503, limitHeaders, v1Block(1965))).toBeNull();
  });
});

describe('describeTarget', () => {
  it('drops credentials, query string and fragment', () => {
    expect(describeTarget('post', 'https://u:p@qualysapi.qualys.com/msp/user.php?action=add&password=x#f')).toBe('POST https://qualysapi.qualys.com/msp/user.php');
    expect(describeTarget('GET', 'not a url?secret=1')).toBe('GET <invalid URL>');
  });
});
