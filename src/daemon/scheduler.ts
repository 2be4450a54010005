// Schedules on croner with time zones. A workflow's scheduled run never overlaps itself (skip or
// queue one), and ticks missed while no daemon ran follow the workflow's catch-up policy, using
// the last fire time stored in the state (not in memory).
import { Cron } from 'croner';
import type { WorkflowFile } from '../generated/workflow.js';
import type { Store } from '../store/types.js';
import { parseDuration } from '../engine/durations.js';
import type { Logger } from './logger.js';

export interface Tick {
  workflow: WorkflowFile;
  /** The time the tick was due. */
  at: Date;
  /** How late the fire is, in ms (0 for catch-up runs, whose lateness is not meaningful). */
  latenessMs: number;
  catchUp: boolean;
}

export interface SchedulerDeps {
  store: Store;
  log: Logger;
  /** This runner's id, recorded with each tick it claims. */
  runner?: string;
  /** Runs the workflow for one tick; resolves when the run ended. */
  fire(tick: Tick): Promise<void>;
  now?: () => Date;
}

const lastKey = (name: string) => `schedule:${name}:last`;
const DEFAULT_WINDOW_MS = 24 * 3_600_000;
/** Catch-up never runs more ticks than this for one workflow (a safety bound). */
const MAX_CATCH_UP = 100;

export class Scheduler {
  private readonly jobs = new Map<string, Cron>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly queued = new Set<string>();
  private readonly background = new Set<Promise<void>>();
  /** Workflows whose missed ticks were looked at since start: a reload must not look again. */
  private readonly caughtUp = new Set<string>();
  private stopped = false;

  constructor(private readonly deps: SchedulerDeps) {}

  /** Starts (or replaces) the schedules of these workflows; others are stopped. */
  async plan(workflows: WorkflowFile[]): Promise<void> {
    const wanted = new Map(workflows.filter((w) => w.enabled !== false && w.trigger.on.includes('schedule') && w.trigger.schedule).map((w) => [w.name, w]));
    for (const [name, job] of this.jobs) {
      if (!wanted.has(name)) {
        job.stop();
        this.jobs.delete(name);
      }
    }
    for (const wf of wanted.values()) {
      this.jobs.get(wf.name)?.stop();
      // A tick is named by its due time, never by the moment a runner's timer fired (croner's
      // currentRun() is the latter, a few ms late and different on every runner): the claim that
      // makes a tick fire once across runners is keyed by that name.
      let due: Date | null = null;
      const job = new Cron(wf.trigger.schedule!, { timezone: wf.trigger.timezone, legacyMode: true, protect: false }, (self: Cron) => {
        const fired = self.currentRun() ?? new Date();
        const at = dueTime(due, fired, (d) => self.nextRun(d));
        due = self.nextRun(at);
        void this.onTick(wf, at, false);
      });
      due = job.nextRun();
      this.jobs.set(wf.name, job);
      // Ticks are missed only while no daemon ran: once per workflow after start. On a reload
      // (any file edit, SIGHUP) the daemon was up, and a tick overlap: skip dropped stays dropped;
      // a changed pattern has no "missed" ticks from before it existed.
      if (this.caughtUp.has(wf.name)) continue;
      this.caughtUp.add(wf.name);
      // Catch-up runs in the background: the daemon is ready while it works through missed ticks.
      const pending = this.catchUp(wf).catch((err: unknown) => this.deps.log.error({ workflow: wf.name, err: (err as Error).message }, 'schedule catch-up failed'));
      this.background.add(pending);
      void pending.finally(() => this.background.delete(pending));
    }
  }

  nextFire(name: string): Date | null {
    return this.jobs.get(name)?.nextRun() ?? null;
  }

  /** Stops every schedule; resolves when the runs in progress have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const job of this.jobs.values()) job.stop();
    this.jobs.clear();
    await Promise.allSettled([...this.background, ...this.running.values()]);
  }

  private async catchUp(wf: WorkflowFile): Promise<void> {
    const now = this.deps.now?.() ?? new Date();
    const stored = await this.deps.store.getKv(lastKey(wf.name));
    if (!stored) {
      // First time this workflow is scheduled: nothing was missed.
      await this.deps.store.setKv(lastKey(wf.name), now.toISOString());
      return;
    }
    const policy = wf.trigger.catch_up ?? 'none';
    const windowStart = new Date(now.getTime() - parseDuration(wf.trigger.catch_up_window, DEFAULT_WINDOW_MS));
    const from = new Date(Math.max(Date.parse(stored), windowStart.getTime()));
    const probe = new Cron(wf.trigger.schedule!, { timezone: wf.trigger.timezone, legacyMode: true, paused: true });
    const missed: Date[] = [];
    for (let t = probe.nextRun(from); t && t <= now && missed.length < MAX_CATCH_UP; t = probe.nextRun(t)) missed.push(t);
    probe.stop();
    if (!missed.length || policy === 'none') {
      if (missed.length) this.deps.log.info({ workflow: wf.name, missed: missed.length }, 'missed schedule ticks not caught up (catch_up: none)');
      return;
    }
    const ticks = policy === 'last' ? missed.slice(-1) : missed;
    this.deps.log.info({ workflow: wf.name, missed: missed.length, running: ticks.length, policy }, 'catching up missed schedule ticks');
    for (const at of ticks) await this.onTick(wf, at, true);
  }

  private async onTick(wf: WorkflowFile, at: Date, catchUp: boolean): Promise<void> {
    if (this.stopped) return;
    const current = this.running.get(wf.name);
    if (current) {
      if ((wf.trigger.overlap ?? 'skip') === 'skip' || this.queued.has(wf.name)) {
        this.deps.log.info({ workflow: wf.name, tick: at.toISOString() }, 'schedule tick skipped: the previous run is still going (overlap: skip)');
        // Dealt with: a restart must not catch it up as missed.
        if (!catchUp) await this.deps.store.setKv(lastKey(wf.name), at.toISOString()).catch(() => undefined);
        return;
      }
      this.queued.add(wf.name);
      await current;
      this.queued.delete(wf.name);
      if (this.stopped) return;
    }
    // Exactly once across runners sharing the store: only the runner that claims the tick fires it.
    if (!(await this.deps.store.claimTick(wf.name, at.toISOString(), this.deps.runner ?? `pid:${process.pid}`))) {
      this.deps.log.debug({ workflow: wf.name, tick: at.toISOString() }, 'schedule tick already claimed');
      return;
    }
    // Stopped while claiming: the store is closing, and the tick is the next start's to catch up.
    if (this.stopped) return;
    const now = this.deps.now?.() ?? new Date();
    // The fire time is stored before the run starts: a crash mid-run does not fire this tick again.
    await this.deps.store.setKv(lastKey(wf.name), at.toISOString());
    const run = this.deps.fire({ workflow: wf, at, latenessMs: catchUp ? 0 : Math.max(0, now.getTime() - at.getTime()), catchUp }).catch((err: unknown) => {
      this.deps.log.error({ workflow: wf.name, err: (err as Error).message }, 'scheduled run failed to start');
    });
    this.running.set(wf.name, run);
    try {
      await run;
    } finally {
      if (this.running.get(wf.name) === run) this.running.delete(wf.name);
    }
  }
}

/**
 * The due time of a firing: the one we expected, unless the timer fired far from it (a clock jump,
 * a suspended machine), then the latest due time at or before the firing plus a little (timers
 * may fire a few ms early).
 */
export function dueTime(expected: Date | null, fired: Date, next: (after: Date) => Date | null): Date {
  const slack = 1000;
  if (expected && Math.abs(fired.getTime() - expected.getTime()) < slack) return expected;
  let at: Date | null = null;
  for (let t = next(new Date(fired.getTime() - 60 * 60_000)); t && t.getTime() <= fired.getTime() + slack / 2; t = next(t)) at = t;
  return at ?? new Date(Math.floor(fired.getTime() / 1000) * 1000);
}
