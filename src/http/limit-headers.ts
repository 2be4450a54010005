// Reading vendor limit signals from a response: the Qualys X-RateLimit-* / X-Concurrency-Limit-*
// headers (reference §13.1), and whether a refused call was a limit block (409 with code 1960 or
// 1965, §13.3) that guarantees the call did not run.

/** Numbers from the limit headers; a field is absent when its header is missing or unreadable. */
export interface LimitSignals {
  /** `X-Concurrency-Limit-Limit`: calls allowed at once. */
  concurrencyLimit?: number;
  /** `X-Concurrency-Limit-Running`: calls running now, this one included. */
  concurrencyRunning?: number;
  /** `X-RateLimit-Limit`: calls allowed per window. */
  rateLimit?: number;
  /** `X-RateLimit-Window-Sec`: sliding window length. */
  windowSec?: number;
  /** `X-RateLimit-Remaining`: calls still allowed now. */
  remaining?: number;
  /** `X-RateLimit-ToWait-Sec`: seconds until a call will not be blocked (0 when not blocked). */
  toWaitSec?: number;
}

function count(headers: Record<string, string>, name: string): number | undefined {
  const raw = headers[name];
  if (raw === undefined) return undefined;
  // A repeated header arrives joined with ", ": the first value counts. (indexOf, not split: this
  // runs six times for every response.)
  const comma = raw.indexOf(',');
  const n = Number((comma === -1 ? raw : raw.slice(0, comma)).trim());
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Reads the limit headers; `headers` must have lower-cased names. */
export function parseLimitHeaders(headers: Record<string, string>): LimitSignals {
  const out: LimitSignals = {};
  const set = (field: keyof LimitSignals, name: string): void => {
    const v = count(headers, name);
    if (v !== undefined) out[field] = v;
  };
  set('concurrencyLimit', 'x-concurrency-limit-limit');
  set('concurrencyRunning', 'x-concurrency-limit-running');
  set('rateLimit', 'x-ratelimit-limit');
  set('windowSec', 'x-ratelimit-window-sec');
  set('remaining', 'x-ratelimit-remaining');
  set('toWaitSec', 'x-ratelimit-towait-sec');
  return out;
}

export function hasLimitHeaders(headers: Record<string, string>): boolean {
  return Object.keys(headers).some((k) => k.startsWith('x-ratelimit-') || k.startsWith('x-concurrency-limit-'));
}

/** Qualys codes meaning "blocked by a limit": 1960 concurrency, 1965 rate, 1920 their generic parent. */
export const LIMIT_CODES: ReadonlySet<number> = new Set([1920, 1960, 1965]);

/** The vendor error code in an XML body: V2 `<CODE>1965</CODE>` or V1 `<RETURN number="1965">`. */
export function vendorErrorCode(body: string): number | undefined {
  const m = /<CODE>\s*(\d+)\s*<\/CODE>/.exec(body) ?? /<(?:RETURN|ERROR)\b[^>]*\bnumber\s*=\s*["'](\d+)["']/.exec(body);
  return m ? Number(m[1]) : undefined;
}

export interface LimitBlock {
  status: number;
  /** Vendor code from the body when there is one (1960, 1965, ...). */
  code?: number;
  /** How long the vendor asked to wait: ToWait-Sec, the body's SECONDS_TO_WAIT, or Retry-After. */
  toWaitMs?: number;
}

const UNIT_SEC: Record<string, number> = { day: 86_400, hour: 3_600, minute: 60, second: 1 };

/**
 * The wait a blocked call's body states: V2's SECONDS_TO_WAIT item, else the text both versions
 * carry, "cannot be run again for another 0 hours, 54 minutes and 59 seconds" (reference §13.3).
 * The V1 409 may come without X-RateLimit-ToWait-Sec (§13.4), and then the text is all there is.
 */
export function secondsToWaitInBody(body: string): number | undefined {
  const m = /<KEY>\s*SECONDS_TO_WAIT\s*<\/KEY>\s*<VALUE>\s*(\d+)\s*<\/VALUE>/.exec(body);
  if (m) return Number(m[1]);
  const text = /for another ((?:\s*(?:,|and)?\s*\d+\s+(?:day|hour|minute|second)s?)+)/i.exec(body)?.[1];
  if (!text) return undefined;
  let sec = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)\s+(day|hour|minute|second)/gi)) sec += Number(n) * UNIT_SEC[unit!.toLowerCase()]!;
  return sec;
}

function retryAfterSec(headers: Record<string, string>): number | undefined {
  const raw = headers['retry-after'];
  if (raw === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(raw)) return Number(raw);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/**
 * Whether a response is a limit block. A 409 is one when its body carries 1920/1960/1965, or when
 * it carries no vendor code but has limit headers; a 409 whose body names another code (e.g. 2003,
 * registration pending) is an ordinary error even though Qualys sends limit headers on every
 * response. 429 (the Qualys gateway APIs) is always one.
 */
export function limitBlock(status: number, headers: Record<string, string>, body: string): LimitBlock | null {
  if (status !== 409 && status !== 429) return null;
  const code = vendorErrorCode(body);
  if (status === 409) {
    const isBlock = code !== undefined ? LIMIT_CODES.has(code) : hasLimitHeaders(headers);
    if (!isBlock) return null;
  }
  const block: LimitBlock = { status };
  if (code !== undefined) block.code = code;
  const sec = parseLimitHeaders(headers).toWaitSec || secondsToWaitInBody(body) || retryAfterSec(headers);
  if (sec !== undefined && sec > 0) block.toWaitMs = sec * 1000;
  return block;
}
