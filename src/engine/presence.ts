// A runner's presence in the store: registered while the process runs workflows, kept alive by
// a heartbeat that also extends its event leases. When the heartbeat stops (the process died),
// its leases lapse and its running runs are adopted by another runner after `ttlMs`.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Store } from '../store/types.js';

/** Default lease time: a runner silent for this long is taken for dead. */
export const DEFAULT_LEASE_TTL_MS = 30_000;

export interface PresenceOptions {
  role: 'daemon' | 'cli';
  ttlMs?: number;
  /** Shown by GET /api/cluster. */
  info?: unknown;
  /** Told when a heartbeat fails (the next one tries again). */
  onError?: (err: unknown) => void;
}

export class Presence {
  readonly id: string;
  readonly ttlMs: number;
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private info: unknown;

  private constructor(
    private readonly store: Store,
    private readonly opts: PresenceOptions,
  ) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.info = opts.info;
    this.id = `${opts.role}:${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  }

  /** Registers the runner and starts its heartbeat (every third of the lease time). */
  static async start(store: Store, opts: PresenceOptions): Promise<Presence> {
    const p = new Presence(store, opts);
    await p.register();
    p.timer = setInterval(() => void p.beat(), Math.max(50, Math.floor(p.ttlMs / 3)));
    p.timer.unref();
    return p;
  }

  private register(): Promise<void> {
    return this.store.registerRunner({ id: this.id, role: this.opts.role, host: hostname(), pid: process.pid, info: this.info });
  }


  /** Replaces the details shown by the cluster API. */
  setInfo(info: unknown): Promise<void> {
    this.info = info;
    return this.register();
  }

  /** One heartbeat now; re-registers when the row was removed (e.g. taken for dead after a long pause). */
  beat(): Promise<void> {
    this.beating ??= (async () => {
      try {
        if (!(await this.store.heartbeat(this.id, this.ttlMs))) await this.register();
      } catch (err) {
        this.opts.onError?.(err);
      } finally {
        this.beating = undefined;
      }
    })();
    return this.beating;
  }

  /** Stops the heartbeat only: what the runner holds lapses after the lease time, as after a crash. */
  halt(): void {
    clearInterval(this.timer);
  }

  /** Stops the heartbeat and removes the runner, releasing its event leases at once. */
  async stop(): Promise<void> {
    this.halt();
    await this.beating;
    await this.store.removeRunner(this.id).catch((err: unknown) => this.opts.onError?.(err));
  }
}

/**
 * Runners registered on this host whose process no longer exists: dead for sure, so a restart
 * need not wait out their lease time. A pid reused by another process only delays that.
 */
export function deadLocalRunners(runners: Array<{ id: string; host: string; pid: number }>): string[] {
  const host = hostname();
  return runners
    .filter((r) => r.host === host && r.pid !== process.pid && !processExists(r.pid))
    .map((r) => r.id);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
