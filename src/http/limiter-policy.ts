// The per-key limiter state and its pure transitions: when the next call may start, and what a
// finished call teaches us. Plain data and explicit `now`, so the in-memory Limiter and a later
// shared (PostgreSQL) one can use the same rules, and tests can run them on a fake clock.
import { parseLimitHeaders } from './limit-headers.js';

export interface LimiterConfig {
  /** Concurrency before any X-Concurrency-Limit-Limit header is seen. Default 1. */
  initialConcurrency: number;
  /** User cap on concurrency whatever the vendor allows. Default unlimited. */
  maxConcurrency: number;
  /** Start spreading calls when the estimated remaining budget is at or below this share of the rate limit. Default 0.1. */
  lowWaterFraction: number;
  /** ...or at or below the calls in flight plus this margin. Default 1. */
  lowWaterMargin: number;
  /** Added to our estimate of when a call leaves the vendor's sliding window. Default 250 ms. */
  windowSafetyMs: number;
  /**
   * When our estimate says the rate budget is spent and the vendor gave no wait, one call goes
   * after at most this long to fetch fresh numbers (a 409 then says exactly how long to wait)
   * rather than sitting out a whole window on a guess. Default 60 000 ms.
   */
  probeAfterMs: number;
}

export const DEFAULT_LIMITER_CONFIG: Readonly<LimiterConfig> = {
  initialConcurrency: 1,
  maxConcurrency: Number.POSITIVE_INFINITY,
  lowWaterFraction: 0.1,
  lowWaterMargin: 1,
  windowSafetyMs: 250,
  probeAfterMs: 60_000,
};

/** One call we made: admission time and, once finished, release time. */
export interface CallStamp {
  start: number;
  end: number | null;
}

/** The last rate numbers the vendor sent, and when. */
export interface RateSnapshot {
  limit: number;
  windowMs: number;
  remaining: number;
  at: number;
  /** Calls in flight when the snapshot was taken or started since (all assumed to consume budget). */
  startedSince: number;
}

export interface KeyLimitState {
  inFlight: number;
  maxInFlightSeen: number;
  /** Last X-Concurrency-Limit-Limit seen. */
  concurrencyLimit: number | null;
  rate: RateSnapshot | null;
  /** No call starts before this time (ms); 0 when not paused. */
  pausedUntil: number;
  /** When the last vendor-given or retry wait ends: one call may probe then whatever the budget estimate says. */
  resumeAt: number;
  /** After a limit block only one call runs until a call gets through. */
  probing: boolean;
  lastAdmitAt: number;
  /** Our recent calls, to predict when they leave the sliding window. */
  calls: CallStamp[];
  blocked409: number;
}

export function newKeyState(): KeyLimitState {
  return { inFlight: 0, maxInFlightSeen: 0, concurrencyLimit: null, rate: null, pausedUntil: 0, resumeAt: 0, probing: false, lastAdmitAt: 0, calls: [], blocked409: 0 };
}

export function effectiveConcurrency(s: KeyLimitState, cfg: LimiterConfig): number {
  if (s.probing) return 1;
  return Math.max(1, Math.min(s.concurrencyLimit ?? cfg.initialConcurrency, cfg.maxConcurrency));
}

function leavesWindowAt(c: CallStamp, r: RateSnapshot, cfg: LimiterConfig): number {
  // Released calls only; the server counted the call at some time before `end`.
  return c.end! + r.windowMs + cfg.windowSafetyMs;
}

/**
 * Calls we may still make now without a 409, by our estimate: the snapshot's remaining, minus calls
 * started since, plus our own calls that were counted in the snapshot and have since left the
 * window. Null when no rate headers were seen.
 */
export function rateBudget(s: KeyLimitState, now: number, cfg: LimiterConfig): number | null {
  const r = s.rate;
  if (!r) return null;
  // Fast path: callers only ask "is it <= 0" and "is it at the low-water mark"; far above that the
  // lower bound (no slots credited back) answers both without scanning our recent calls.
  const lowerBound = r.remaining - r.startedSince;
  if (now < r.at + r.windowMs && lowerBound > 2 * lowWaterMark(s, cfg)) return lowerBound;
  if (now >= r.at + r.windowMs + cfg.windowSafetyMs) {
    // Everything the snapshot counted has left the window; only our newer calls still count.
    const stillIn = s.calls.filter((c) => c.end === null || leavesWindowAt(c, r, cfg) > now).length;
    return r.limit - stillIn;
  }
  let freed = 0;
  for (const c of s.calls) {
    if (c.end !== null && c.start + r.windowMs > r.at && leavesWindowAt(c, r, cfg) <= now) freed++;
  }
  return Math.min(r.limit, r.remaining - r.startedSince + freed);
}

/** When the next window slot is expected to free up; null when we know of none still to come. */
export function nextSlotAt(s: KeyLimitState, now: number, cfg: LimiterConfig): number | null {
  const r = s.rate;
  if (!r) return null;
  const snapshotExpires = r.at + r.windowMs + cfg.windowSafetyMs;
  const afterSnapshot = now >= snapshotExpires;
  let t = afterSnapshot ? Number.POSITIVE_INFINITY : snapshotExpires;
  for (const c of s.calls) {
    if (c.end === null) continue;
    // Before the snapshot expires only calls it counted free a slot (see rateBudget).
    if (!afterSnapshot && c.start + r.windowMs <= r.at) continue;
    const leaves = leavesWindowAt(c, r, cfg);
    if (leaves > now && leaves < t) t = leaves;
  }
  return Number.isFinite(t) ? t : null;
}

/** `paced`: the budget is not spent, calls are only being spread out (the vendor would accept one now). */
export type Admission = { kind: 'now' } | { kind: 'at'; time: number; paced?: true } | { kind: 'on-release' };

/** Whether a call may start at `now`, else when to look again. */
export function nextAdmission(s: KeyLimitState, now: number, cfg: LimiterConfig): Admission {
  if (now < s.pausedUntil) return { kind: 'at', time: s.pausedUntil };
  if (s.inFlight >= effectiveConcurrency(s, cfg)) return { kind: 'on-release' };
  const budget = rateBudget(s, now, cfg);
  if (budget === null) return { kind: 'now' };
  const lowWater = lowWaterMark(s, cfg);
  if (budget > lowWater) return { kind: 'now' };
  const slot = nextSlotAt(s, now, cfg);
  if (budget <= 0) {
    // A finishing call brings fresh numbers; otherwise wait for a predicted slot or the next probe.
    if (s.inFlight > 0) return { kind: 'on-release' };
    const probeAt = s.lastAdmitAt < s.resumeAt ? s.resumeAt : Math.max(s.rate!.at, s.lastAdmitAt) + cfg.probeAfterMs;
    const time = Math.min(slot ?? Number.POSITIVE_INFINITY, probeAt);
    return time <= now ? { kind: 'now' } : { kind: 'at', time };
  }
  if (slot !== null) {
    // Spread what is left over the time until a slot frees instead of bursting into a 409.
    const spacing = Math.max(0, slot - now) / budget;
    const time = s.lastAdmitAt + spacing;
    if (time > now) return { kind: 'at', time, paced: true };
  }
  return { kind: 'now' };
}

export function recordAdmit(s: KeyLimitState, now: number): CallStamp {
  s.inFlight++;
  s.maxInFlightSeen = Math.max(s.maxInFlightSeen, s.inFlight);
  s.lastAdmitAt = now;
  if (s.rate) s.rate.startedSince++;
  const stamp: CallStamp = { start: now, end: null };
  s.calls.push(stamp);
  return stamp;
}

export interface ReleaseOutcome {
  /** The vendor refused the call for a limit (409 1960/1965): it did not run. */
  blocked?: boolean;
  /** Pause the whole key this long from now (the retry wait after a block). */
  pauseMs?: number;
  /** The call never reached the server (connection refused and the like). */
  notSent?: boolean;
}

/** A call finished; `headers` (lower-cased) are its response headers when it got a response. */
export function recordRelease(
  s: KeyLimitState,
  stamp: CallStamp,
  now: number,
  headers: Record<string, string> | undefined,
  outcome: ReleaseOutcome,
): void {
  s.inFlight = Math.max(0, s.inFlight - 1);
  stamp.end = now;
  // Calls the server never counted must not be credited back later.
  if (outcome.blocked || outcome.notSent) s.calls = s.calls.filter((c) => c !== stamp);

  if (headers) {
    const h = parseLimitHeaders(headers);
    if (h.concurrencyLimit !== undefined && h.concurrencyLimit >= 1) s.concurrencyLimit = h.concurrencyLimit;
    if (h.rateLimit !== undefined && h.windowSec !== undefined && h.remaining !== undefined) {
      s.rate = { limit: h.rateLimit, windowMs: h.windowSec * 1000, remaining: h.remaining, at: now, startedSince: s.inFlight };
    }
    if (h.remaining === 0 && h.toWaitSec !== undefined && h.toWaitSec > 0) pause(s, now + h.toWaitSec * 1000);
    if (!outcome.blocked) s.probing = false;
  }
  if (outcome.blocked) {
    s.blocked409++;
    s.probing = true;
  }
  if (outcome.pauseMs !== undefined && outcome.pauseMs > 0) pause(s, now + outcome.pauseMs);
  prune(s);
}

function pause(s: KeyLimitState, until: number): void {
  s.pausedUntil = Math.max(s.pausedUntil, until);
  s.resumeAt = s.pausedUntil;
}

/** Budget at or below which calls are spread out instead of sent at once. */
function lowWaterMark(s: KeyLimitState, cfg: LimiterConfig): number {
  return Math.max(Math.ceil((s.rate?.limit ?? 0) * cfg.lowWaterFraction), s.inFlight + cfg.lowWaterMargin);
}

/** Ended calls kept for slot predictions; dropping the oldest only makes predictions cautious. */
const MAX_TRACKED_CALLS = 4096;

function prune(s: KeyLimitState): void {
  const r = s.rate;
  const cap = Math.min(MAX_TRACKED_CALLS, r ? r.limit : 0);
  // Amortized: filtering on every release would make a long run quadratic.
  if (s.calls.length <= 2 * cap + s.inFlight + 16) return;
  // A call that left the window before the snapshot can never be credited again.
  let kept = r ? s.calls.filter((c) => c.end === null || c.end + r.windowMs > r.at) : s.calls.filter((c) => c.end === null);
  const ended = kept.filter((c) => c.end !== null);
  if (ended.length > cap) {
    const drop = new Set(ended.slice(0, ended.length - cap));
    kept = kept.filter((c) => !drop.has(c));
  }
  s.calls = kept;
}
