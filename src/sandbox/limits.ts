// API limits per (subscription, script), reference §13: a concurrency limit checked first, then a
// sliding-window rate limit. Produces the six X-RateLimit-* / X-Concurrency-Limit-* headers.

export interface RateLimit {
  /** Calls allowed per window. */
  calls: number;
  /** Window length in seconds (sliding: looks back from each call). */
  windowSec: number;
}

/** How `X-RateLimit-ToWait-Sec` is sent on blocked calls (live Qualys sometimes omits it). */
export type ToWaitHeaderMode = 'always' | 'omit-on-block' | 'omit-on-first-block';

export interface LimitsConfig {
  /** Rate limit; null or absent means off. Default off. */
  rate?: RateLimit | null;
  /** Concurrent calls per (subscription, script); null or absent means unlimited. Default unlimited. */
  concurrency?: number | null;
  /** Default `always`. */
  toWaitHeader?: ToWaitHeaderMode;
}

/** What the headers advertise for a limit that is off. */
export const UNLIMITED = 1_000_000;
const UNLIMITED_WINDOW_SEC = 3600;

export type LimitHeaders = Record<string, string>;

export type Admission =
  | { ok: true; headers: LimitHeaders; running: number; release: () => void }
  | { ok: false; code: 1960 | 1965; message: string; headers: LimitHeaders };

interface KeyState {
  running: number;
  /** Accepted call times (ms), oldest first from `head`. */
  stamps: number[];
  head: number;
  /** For `omit-on-first-block`: a block already happened since the last accepted call. */
  blockedEpisode: boolean;
}

function headers(limit: number, windowSec: number, remaining: number, toWait: number | null, concLimit: number, running: number): LimitHeaders {
  const h: LimitHeaders = {
    'X-RateLimit-Limit': String(limit),
    'X-RateLimit-Window-Sec': String(windowSec),
    'X-RateLimit-Remaining': String(remaining),
    'X-Concurrency-Limit-Limit': String(concLimit),
    'X-Concurrency-Limit-Running': String(running),
  };
  if (toWait !== null) h['X-RateLimit-ToWait-Sec'] = String(toWait);
  return h;
}

/** `This API cannot be run again for another 0 hours, 54 minutes and 59 seconds.` */
export function rateBlockText(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `This API cannot be run again for another ${h} hours, ${m} minutes and ${s} seconds.`;
}

function concurrencyBlockText(toFinish: number): string {
  return toFinish === 1
    ? 'This API cannot be run again until 1 currently running API instance has finished.'
    : `This API cannot be run again until ${toFinish} currently running API instances have finished.`;
}

export class LimitTracker {
  private global: LimitsConfig;
  private readonly perSubscription: ReadonlyMap<string, LimitsConfig>;
  private readonly now: () => number;
  private readonly keys = new Map<string, KeyState>();

  constructor(global: LimitsConfig, perSubscription: ReadonlyMap<string, LimitsConfig>, now: () => number) {
    this.global = global;
    this.perSubscription = perSubscription;
    this.now = now;
  }

  setLimits(config: LimitsConfig): void {
    // A new rate starts with an empty window (calls under the old rate do not count against it).
    if (JSON.stringify(config.rate) !== JSON.stringify(this.global.rate)) {
      for (const st of this.keys.values()) Object.assign(st, { stamps: [], head: 0, blockedEpisode: false });
    }
    this.global = config;
  }

  get limits(): LimitsConfig {
    return this.global;
  }

  /** Forgets running counts and call history (the reset of `QualysSandbox.reset()`). */
  reset(): void {
    this.keys.clear();
  }

  /** Effective limits for a subscription (its own settings override the sandbox-wide ones). */
  configFor(subscription: string): LimitsConfig {
    const own = this.perSubscription.get(subscription);
    if (!own) return this.global;
    return {
      rate: own.rate !== undefined ? own.rate : this.global.rate,
      concurrency: own.concurrency !== undefined ? own.concurrency : this.global.concurrency,
      toWaitHeader: own.toWaitHeader ?? this.global.toWaitHeader,
    };
  }

  /** Headers for responses that never reach admission (auth errors, unknown paths). */
  idleHeaders(): LimitHeaders {
    const c = this.global;
    const limit = c.rate ? c.rate.calls : UNLIMITED;
    return headers(limit, c.rate ? c.rate.windowSec : UNLIMITED_WINDOW_SEC, limit, 0, c.concurrency ?? UNLIMITED, 1);
  }

  /**
   * Headers of a subscription's script budget as it stands, without taking a call from it: for
   * answers that never reach admission but whose caller is known (a wrong password, an inactive
   * or pending account). A client that throttles from them must see the real budget.
   */
  peekHeaders(subscription: string, script: string): LimitHeaders {
    const c = this.configFor(subscription);
    const st = this.keys.get(subscription + '\u0000' + script);
    const rate = c.rate ?? null;
    const now = this.now();
    let inWindow = 0;
    let oldest: number | undefined;
    if (rate && st) {
      const cutoff = now - rate.windowSec * 1000;
      for (let i = st.head; i < st.stamps.length; i++) {
        const t = st.stamps[i] as number;
        if (t <= cutoff) continue;
        oldest ??= t;
        inWindow++;
      }
    }
    const limit = rate ? rate.calls : UNLIMITED;
    // A spent budget says how long until the oldest call in the window leaves it, as a block does.
    const toWait = rate && inWindow >= rate.calls && oldest !== undefined ? Math.max(1, Math.ceil((oldest + rate.windowSec * 1000 - now) / 1000)) : 0;
    return headers(limit, rate ? rate.windowSec : UNLIMITED_WINDOW_SEC, Math.max(0, limit - inWindow), toWait, c.concurrency ?? UNLIMITED, (st?.running ?? 0) + 1);
  }

  /** Checks concurrency, then rate. On success the caller must call `release()` exactly once. */
  admit(subscription: string, script: string): Admission {
    const key = subscription + '\u0000' + script;
    let st = this.keys.get(key);
    if (!st) {
      st = { running: 0, stamps: [], head: 0, blockedEpisode: false };
      this.keys.set(key, st);
    }
    const c = this.configFor(subscription);
    const concLimit = c.concurrency ?? UNLIMITED;
    const rate = c.rate ?? null;
    const now = this.now();
    let inWindow = 0;
    if (rate) {
      const cutoff = now - rate.windowSec * 1000;
      while (st.head < st.stamps.length && (st.stamps[st.head] as number) <= cutoff) st.head++;
      if (st.head > 1024 && st.head * 2 > st.stamps.length) {
        st.stamps = st.stamps.slice(st.head);
        st.head = 0;
      }
      inWindow = st.stamps.length - st.head;
    }
    const rateLimit = rate ? rate.calls : UNLIMITED;
    const windowSec = rate ? rate.windowSec : UNLIMITED_WINDOW_SEC;
    const omit = (): boolean => {
      const mode = c.toWaitHeader ?? 'always';
      if (mode === 'omit-on-block') return true;
      if (mode === 'omit-on-first-block') {
        const first = !st.blockedEpisode;
        st.blockedEpisode = true;
        return first;
      }
      return false;
    };

    if (st.running >= concLimit) {
      const toWait = omit() ? null : 0;
      return {
        ok: false,
        code: 1960,
        message: concurrencyBlockText(st.running - concLimit + 1),
        // Running counts this call too (reference §13.1: "including this one"), though refused.
        headers: headers(rateLimit, windowSec, Math.max(0, rateLimit - inWindow), toWait, concLimit, st.running + 1),
      };
    }
    if (rate && inWindow >= rate.calls) {
      const oldest = st.stamps[st.head] ?? now;
      const wait = Math.max(1, Math.ceil((oldest + rate.windowSec * 1000 - now) / 1000));
      return {
        ok: false,
        code: 1965,
        message: rateBlockText(wait),
        headers: headers(rateLimit, windowSec, 0, omit() ? null : wait, concLimit, st.running + 1),
      };
    }

    st.blockedEpisode = false;
    if (rate) st.stamps.push(now);
    st.running++;
    const running = st.running;
    const state = st;
    let released = false;
    return {
      ok: true,
      running,
      headers: headers(rateLimit, windowSec, rate ? rate.calls - inWindow - 1 : UNLIMITED - 1, 0, concLimit, running),
      release: () => {
        if (released) return;
        released = true;
        state.running--;
      },
    };
  }
}

/** Parses `CALLS/SECONDS` (e.g. `300/3600`). Returns null when malformed. */
export function parseRateLimit(text: string): RateLimit | null {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) return null;
  const calls = Number(m[1]);
  const windowSec = Number(m[2]);
  if (!Number.isSafeInteger(calls) || !Number.isSafeInteger(windowSec) || calls < 1 || windowSec < 1) return null;
  return { calls, windowSec };
}
