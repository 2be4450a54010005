// The call limiter of a runner that shares its store with others: the in-process Limiter paces
// this runner's calls (queues, rate budget, pauses after a block), and each admitted call also
// takes one of the key's cluster-wide slots (0..limit-1, in the store), so all runners together
// never run more calls at once than the vendor's concurrency limit. A limit block (409) pauses
// the key for all of them. The rate budget itself needs no sharing: the vendor counts every
// runner's calls and each response's X-RateLimit-Remaining tells each runner what is left.
import type { SlotLocks } from '../store/types.js';
import { sleep } from './delay.js';
import { LimitWaitError, Limiter, type CallLimiter, type LimiterStats, type Release } from './limiter.js';

/** A concurrency limit this high means "no practical limit" (the sandbox with limits off): no slots needed. */
export const UNSHARED_LIMIT = 10_000;

export interface SharedLimiterOptions {
  /** First wait between attempts when every slot is taken; doubles up to maxPollMs. Default 5 ms. */
  pollMs?: number;
  maxPollMs?: number;
  /** Told when giving a slot back fails (the slot is freed when its connection ends). */
  onError?: (err: unknown) => void;
}

export class SharedLimiter implements CallLimiter {
  readonly #held = new Map<string, Set<number>>();
  readonly #slotWaits = new Map<string, number>();
  /** One take at a time per key: advisory locks nest within a session, so two takes racing with the same `held` would both get the same slot. */
  readonly #taking = new Map<string, Promise<unknown>>();

  constructor(
    readonly local: CallLimiter,
    readonly slots: SlotLocks,
    private readonly opts: SharedLimiterOptions = {},
  ) {}

  static over(slots: SlotLocks, opts?: SharedLimiterOptions): SharedLimiter {
    return new SharedLimiter(new Limiter(), slots, opts);
  }

  keys(): string[] {
    return this.local.keys();
  }

  stats(key: string): LimiterStats {
    const s = this.local.stats(key);
    return { ...s, waits: s.waits + (this.#slotWaits.get(key) ?? 0) };
  }

  async acquire(key: string, signal?: AbortSignal, maxWaitMs?: number): Promise<Release> {
    const release = await this.local.acquire(key, signal, maxWaitMs);
    const limit = this.local.stats(key).limit;
    if (limit >= UNSHARED_LIMIT) return release;
    let slot: number;
    try {
      slot = await this.#take(key, limit, signal, maxWaitMs);
    } catch (err) {
      release();
      throw err;
    }
    let done = false;
    return (headers, outcome) => {
      if (done) return;
      done = true;
      this.#held.get(key)!.delete(slot);
      this.slots.give(key, slot).catch((err: unknown) => this.opts.onError?.(err));
      // A limit block pauses the key for every runner, not only this one.
      if (outcome?.blocked && outcome.pauseMs) this.slots.pause(key, Date.now() + outcome.pauseMs).catch((err: unknown) => this.opts.onError?.(err));
      release(headers, outcome);
    };
  }

  #take(key: string, limit: number, signal?: AbortSignal, maxWaitMs?: number): Promise<number> {
    const turn = (this.#taking.get(key) ?? Promise.resolve()).then(() => this.#takeNow(key, limit, signal, maxWaitMs));
    this.#taking.set(key, turn.catch(() => undefined));
    return turn;
  }

  async #takeNow(key: string, limit: number, signal?: AbortSignal, maxWaitMs?: number): Promise<number> {
    let held = this.#held.get(key);
    if (!held) this.#held.set(key, (held = new Set()));
    let wait = this.opts.pollMs ?? 5;
    for (let first = true; ; first = false) {
      const { slot, pausedUntil } = await this.slots.take(key, limit, [...held]);
      if (slot !== null) {
        held.add(slot);
        return slot;
      }
      if (first) this.#slotWaits.set(key, (this.#slotWaits.get(key) ?? 0) + 1);
      const paused = pausedUntil - Date.now();
      // Another runner's limit block paused the key longer than this call waits.
      if (maxWaitMs !== undefined && paused > maxWaitMs) throw new LimitWaitError(key, paused);
      if (paused > 0) {
        await sleep(paused, signal);
        continue;
      }
      // Jitter keeps runners that wait on the same key from asking in lockstep.
      await sleep(wait * (0.5 + Math.random()), signal);
      wait = Math.min(wait * 2, this.opts.maxPollMs ?? 50);
    }
  }
}

/** The limiter for a runner on `store`: shared through it when the store offers slots, else in-process. */
export async function limiterFor(store: { openSlotLocks?(): Promise<SlotLocks> }, opts?: SharedLimiterOptions): Promise<{ limiter: CallLimiter; close(): Promise<void> }> {
  const slots = await store.openSlotLocks?.();
  if (!slots) return { limiter: new Limiter(), close: async () => undefined };
  return { limiter: SharedLimiter.over(slots, opts), close: () => slots.close() };
}
