// The limiter rules on a fake clock: concurrency from headers, pause and probe after a block,
// spreading a low rate budget, and a simulated Qualys sliding window of 5 calls per 2 s.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITER_CONFIG,
  effectiveConcurrency,
  newKeyState,
  nextAdmission,
  rateBudget,
  recordAdmit,
  recordRelease,
  type LimiterConfig,
} from '../../src/http/limiter-policy.js';

const cfg: LimiterConfig = { ...DEFAULT_LIMITER_CONFIG };

function rateHeaders(limit: number, windowSec: number, remaining: number, extra: Record<string, string> = {}): Record<string, string> {
  return { 'x-ratelimit-limit': String(limit), 'x-ratelimit-window-sec': String(windowSec), 'x-ratelimit-remaining': String(remaining), ...extra };
}

describe('limiter policy', () => {
  it('starts at the initial concurrency and follows X-Concurrency-Limit-Limit, capped by maxConcurrency', () => {
    const s = newKeyState();
    expect(effectiveConcurrency(s, cfg)).toBe(1);
    const stamp = recordAdmit(s, 0);
    expect(nextAdmission(s, 0, cfg)).toEqual({ kind: 'on-release' });
    recordRelease(s, stamp, 10, { 'x-concurrency-limit-limit': '5' }, {});
    expect(effectiveConcurrency(s, cfg)).toBe(5);
    expect(effectiveConcurrency(s, { ...cfg, maxConcurrency: 3 })).toBe(3);
  });

  it('pauses the key after a block, then lets one probe through', () => {
    const s = newKeyState();
    s.concurrencyLimit = 4;
    const stamp = recordAdmit(s, 0);
    recordRelease(s, stamp, 100, rateHeaders(300, 3600, 0, { 'x-ratelimit-towait-sec': '2' }), { blocked: true, pauseMs: 2500 });
    expect(s.blocked409).toBe(1);
    expect(nextAdmission(s, 1000, cfg)).toEqual({ kind: 'at', time: 2600 });
    expect(nextAdmission(s, 2600, cfg)).toEqual({ kind: 'now' });
    expect(effectiveConcurrency(s, cfg)).toBe(1);
    const probe = recordAdmit(s, 2600);
    expect(nextAdmission(s, 2600, cfg)).toEqual({ kind: 'on-release' });
    recordRelease(s, probe, 2700, rateHeaders(300, 3600, 10), {});
    expect(effectiveConcurrency(s, cfg)).toBe(4);
  });

  it('pauses on X-RateLimit-Remaining 0 with a ToWait, even on a 200', () => {
    const s = newKeyState();
    const stamp = recordAdmit(s, 0);
    recordRelease(s, stamp, 50, rateHeaders(5, 2, 0, { 'x-ratelimit-towait-sec': '1' }), {});
    expect(nextAdmission(s, 60, cfg)).toEqual({ kind: 'at', time: 1050 });
  });

  it('spreads a low remaining budget over the time until a slot frees', () => {
    const s = newKeyState();
    s.rate = { limit: 300, windowMs: 3_600_000, remaining: 20, at: 0, startedSince: 0 };
    // 20 left (<= 10% of 300) and no call of ours to free a slot before the window passes.
    const a = nextAdmission(s, 0, cfg);
    expect(a).toEqual({ kind: 'at', time: (3_600_000 + cfg.windowSafetyMs) / 20, paced: true });
    s.rate.remaining = 200;
    expect(nextAdmission(s, 0, cfg)).toEqual({ kind: 'now' });
  });

  it('probes after probeAfterMs when the budget is spent and no slot is predicted', () => {
    const s = newKeyState();
    s.rate = { limit: 300, windowMs: 3_600_000, remaining: 0, at: 0, startedSince: 0 };
    expect(nextAdmission(s, 0, cfg)).toEqual({ kind: 'at', time: cfg.probeAfterMs });
    expect(nextAdmission(s, cfg.probeAfterMs, cfg)).toEqual({ kind: 'now' });
  });

  it('credits our own calls back as they leave the window', () => {
    const s = newKeyState();
    s.concurrencyLimit = 10;
    const stamps = [0, 1, 2].map((t) => recordAdmit(s, t));
    stamps.forEach((st, i) => recordRelease(s, st, 100 + i, rateHeaders(3, 2, 2 - i), {}));
    expect(rateBudget(s, 200, cfg)).toBe(0);
    expect(rateBudget(s, 100 + 2000 + cfg.windowSafetyMs, cfg)).toBe(1);
    expect(rateBudget(s, 102 + 2000 + cfg.windowSafetyMs, cfg)).toBe(3);
  });

  it('keeps a simulated Qualys window of 5 calls per 2 s free of 409s', () => {
    // Discrete-event simulation: 20 callers, 10 ms to reach the server, 40 ms more to answer.
    const LIMIT = 5;
    const WINDOW = 2000;
    const s = newKeyState();
    const events: Array<{ t: number; run: () => void }> = [];
    const at = (t: number, run: () => void) => events.push({ t, run });
    let now = 0;
    let pending = 20;
    let done = 0;
    let blocked = 0;
    let nextTimer = Number.POSITIVE_INFINITY;
    const accepted: number[] = [];

    const arrive = (stamp: ReturnType<typeof recordAdmit>): void => {
      while (accepted.length > 0 && accepted[0]! <= now - WINDOW) accepted.shift();
      let headers: Record<string, string>;
      let isBlock = false;
      if (accepted.length >= LIMIT) {
        isBlock = true;
        blocked++;
        headers = rateHeaders(LIMIT, WINDOW / 1000, 0, { 'x-ratelimit-towait-sec': String(Math.ceil((accepted[0]! + WINDOW - now) / 1000)) });
      } else {
        accepted.push(now);
        headers = rateHeaders(LIMIT, WINDOW / 1000, LIMIT - accepted.length, { 'x-concurrency-limit-limit': '10' });
      }
      at(now + 40, () => {
        recordRelease(s, stamp, now, headers, isBlock ? { blocked: true } : {});
        if (isBlock) pending++;
        else done++;
        pump();
      });
    };
    const pump = (): void => {
      while (pending > 0) {
        const a = nextAdmission(s, now, cfg);
        if (a.kind === 'now') {
          pending--;
          const stamp = recordAdmit(s, now);
          at(now + 10, () => arrive(stamp));
          continue;
        }
        if (a.kind === 'at' && a.time < nextTimer) {
          nextTimer = a.time;
          at(a.time, () => {
            nextTimer = Number.POSITIVE_INFINITY;
            pump();
          });
        }
        return;
      }
    };

    pump();
    while (events.length > 0) {
      events.sort((x, y) => x.t - y.t);
      const e = events.shift()!;
      now = e.t;
      e.run();
    }
    expect(done).toBe(20);
    expect(blocked).toBe(0);
    // 20 calls at 5 per 2 s cannot finish before 3 full windows have passed, and should not take many more.
    expect(now).toBeGreaterThanOrEqual(3 * WINDOW);
    expect(now).toBeLessThan(5 * WINDOW);
  });
});
