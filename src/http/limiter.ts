// Per-key call limiter shared by every caller in the process (keys like `qualys:user.php`, one per
// credential and vendor script, since Qualys limits apply per subscription and per API). It keeps
// calls under the vendor's concurrency limit, paces them when the rate budget runs low, and after
// a limit block pauses the whole key so waiting callers share one deadline instead of each
// retrying into another 409. The rules live in limiter-policy.ts; this file is queues and timers.
import { abortReason } from './delay.js';
import {
  DEFAULT_LIMITER_CONFIG,
  effectiveConcurrency,
  newKeyState,
  nextAdmission,
  recordAdmit,
  recordRelease,
  type KeyLimitState,
  type LimiterConfig,
  type ReleaseOutcome,
} from './limiter-policy.js';

export type { ReleaseOutcome } from './limiter-policy.js';

/** Ends a call admitted by `acquire`; pass the response headers (lower-cased) when there was a response. Calling it twice is harmless. */
export type Release = (headers?: Record<string, string>, outcome?: ReleaseOutcome) => void;

export interface LimiterStats {
  inFlight: number;
  maxInFlightSeen: number;
  /** Calls allowed at once right now (1 while probing after a block). */
  limit: number;
  /** Calls that had to queue. */
  waits: number;
  /** Total time calls spent queued. */
  waitedMs: number;
  /** Limit blocks (409 1960/1965) reported through `release`. */
  blocked409: number;
  /** Calls queued now. */
  queued: number;
  /** Epoch ms until which the key is paused, or null. */
  pausedUntil: number | null;
}

/** A call would have to wait longer than its caller allows: a long vendor pause, or a spent rate budget. */
export class LimitWaitError extends Error {
  constructor(
    readonly key: string,
    /** How long until the limiter expects to admit a call. */
    readonly retryAfterMs: number,
  ) {
    super(`${key}: the next call may start in ${Math.ceil(retryAfterMs / 1000)} s`);
  }
}

/**
 * What the HTTP client needs from a limiter. The in-memory `Limiter` serves one process; a limiter
 * shared through PostgreSQL can implement the same interface (and reuse limiter-policy.ts).
 */
export interface CallLimiter {
  /**
   * Waits until a call under `key` may start; rejects with the abort reason if `signal` aborts
   * first, and with `LimitWaitError` as soon as the limits say the wait would exceed `maxWaitMs`.
   */
  acquire(key: string, signal?: AbortSignal, maxWaitMs?: number): Promise<Release>;
  stats(key: string): LimiterStats;
  /** Keys seen so far (for metrics). */
  keys(): string[];
}

export interface LimiterOptions extends Partial<LimiterConfig> {
  /** Clock in epoch ms. Default `Date.now`. */
  now?: () => number;
}

interface Waiter {
  enqueuedAt: number;
  /** Latest admission time the caller accepts (Infinity: none). */
  deadline: number;
  admit: (release: Release) => void;
  refuse: (err: LimitWaitError) => void;
}

interface KeyEntry {
  key: string;
  state: KeyLimitState;
  queue: Waiter[];
  timer: NodeJS.Timeout | null;
  timerAt: number;
  waits: number;
  waitedMs: number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export class Limiter implements CallLimiter {
  readonly #cfg: LimiterConfig;
  readonly #now: () => number;
  readonly #keys = new Map<string, KeyEntry>();

  keys(): string[] {
    return [...this.#keys.keys()];
  }

  constructor(opts: LimiterOptions = {}) {
    const { now, ...cfg } = opts;
    this.#cfg = { ...DEFAULT_LIMITER_CONFIG, ...withoutUndefined(cfg) };
    this.#now = now ?? Date.now;
  }

  acquire(key: string, signal?: AbortSignal, maxWaitMs?: number): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const e = this.#entry(key);
    const now = this.#now();
    if (e.queue.length === 0) {
      const a = nextAdmission(e.state, now, this.#cfg);
      if (a.kind === 'now') return Promise.resolve(this.#admit(e));
      if (a.kind === 'at' && maxWaitMs !== undefined && a.time - now > maxWaitMs) {
        // Spreading the last calls of a budget over hours helps nobody who will not wait that
        // long: the vendor accepts this one now, and a spent budget then fails fast.
        if (a.paced) return Promise.resolve(this.#admit(e));
        return Promise.reject(new LimitWaitError(key, a.time - now));
      }
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        enqueuedAt: now,
        deadline: maxWaitMs === undefined ? Number.POSITIVE_INFINITY : now + maxWaitMs,
        admit: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
        refuse: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = (): void => {
        const i = e.queue.indexOf(waiter);
        if (i < 0) return;
        e.queue.splice(i, 1);
        e.waitedMs += this.#now() - waiter.enqueuedAt;
        if (e.queue.length === 0) this.#clearTimer(e);
        reject(abortReason(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      e.waits++;
      e.queue.push(waiter);
      this.#pump(e);
    });
  }

  stats(key: string): LimiterStats {
    const e = this.#entry(key);
    const s = e.state;
    return {
      inFlight: s.inFlight,
      maxInFlightSeen: s.maxInFlightSeen,
      limit: effectiveConcurrency(s, this.#cfg),
      waits: e.waits,
      waitedMs: e.waitedMs,
      blocked409: s.blocked409,
      queued: e.queue.length,
      pausedUntil: s.pausedUntil > this.#now() ? s.pausedUntil : null,
    };
  }

  #entry(key: string): KeyEntry {
    let e = this.#keys.get(key);
    if (!e) {
      e = { key, state: newKeyState(), queue: [], timer: null, timerAt: 0, waits: 0, waitedMs: 0 };
      this.#keys.set(key, e);
    }
    return e;
  }

  #admit(e: KeyEntry): Release {
    const stamp = recordAdmit(e.state, this.#now());
    let released = false;
    return (headers, outcome = {}) => {
      if (released) return;
      released = true;
      recordRelease(e.state, stamp, this.#now(), headers, outcome);
      this.#pump(e);
    };
  }

  /** Admits queued callers in order while the policy allows, else arranges to look again. */
  #pump(e: KeyEntry): void {
    while (e.queue.length > 0) {
      const now = this.#now();
      const a = nextAdmission(e.state, now, this.#cfg);
      if (a.kind === 'now') {
        const w = e.queue.shift()!;
        e.waitedMs += now - w.enqueuedAt;
        w.admit(this.#admit(e));
        continue;
      }
      if (a.kind === 'at' && a.paced && e.queue[0]!.deadline < a.time) {
        // As in acquire: pacing is not worth a wait past the caller's limit while budget is left.
        const w = e.queue.shift()!;
        e.waitedMs += now - w.enqueuedAt;
        w.admit(this.#admit(e));
        continue;
      }
      if (a.kind === 'at') {
        // Callers that will not wait that long are told now, not when their patience runs out
        // (a vendor pause or a spent daily budget can be hours away).
        const late = e.queue.filter((w) => w.deadline < a.time);
        if (late.length) {
          e.queue = e.queue.filter((w) => w.deadline >= a.time);
          for (const w of late) {
            e.waitedMs += now - w.enqueuedAt;
            w.refuse(new LimitWaitError(e.key, a.time - now));
          }
          if (e.queue.length === 0) {
            this.#clearTimer(e);
            return;
          }
        }
        this.#schedule(e, a.time, now);
      }
      return; // 'on-release': the next release pumps again
    }
  }

  #schedule(e: KeyEntry, time: number, now: number): void {
    if (e.timer && e.timerAt <= time) return;
    this.#clearTimer(e);
    e.timerAt = time;
    // +1: timers may fire a millisecond early by the wall clock.
    e.timer = setTimeout(() => {
      e.timer = null;
      this.#pump(e);
    }, Math.min(Math.max(0, time - now) + 1, MAX_TIMER_MS));
  }

  #clearTimer(e: KeyEntry): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = null;
  }
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
