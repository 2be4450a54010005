// The scheduler against a real SQLite store: catch-up policies from the stored last fire time,
// and no overlap of a workflow's scheduled runs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/daemon/logger.js';
import { dueTime, Scheduler, type Tick } from '../../src/daemon/scheduler.js';
import { Cron } from 'croner';
import type { WorkflowFile } from '../../src/generated/workflow.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { buildObjectDefs } from '../../src/workflow/objects.js';

let dir: string | undefined;
let store: Store | undefined;
let scheduler: Scheduler | undefined;
const quiet = createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

afterEach(async () => {
  await scheduler?.stop();
  scheduler = undefined;
  await store?.close();
  store = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const wf = (trigger: Partial<WorkflowFile['trigger']>): WorkflowFile => ({
  version: 1,
  name: 'tick',
  object: 'users',
  trigger: { on: ['schedule'], schedule: '* * * * *', ...trigger },
  steps: [{ id: 's', preset: 'qualys.activate_user' }],
});

async function setup(): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'skein-sched-'));
  store = await openStore(join(dir, 's.db'), buildObjectDefs(undefined));
}

describe('catch-up after downtime', () => {
  it.each([
    ['none', 0],
    ['last', 1],
    ['all', 10],
  ] as const)('catch_up: %s runs %i of 10 missed minute ticks', async (policy, expected) => {
    await setup();
    // Half past a minute, so exactly ten minute boundaries lie in the last 10 min 1 s.
    const now = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 30_000);
    await store.setKv('schedule:tick:last', new Date(now.getTime() - 10 * 60_000 - 1000).toISOString());
    const fired: Tick[] = [];
    scheduler = new Scheduler({ store, log: quiet, fire: async (t) => void fired.push(t), now: () => now });
    await scheduler.plan([wf({ catch_up: policy })]);
    await new Promise((r) => setTimeout(r, 200));
    const caught = fired.filter((t) => t.catchUp);
    expect(caught).toHaveLength(expected);
    // Ticks are due times, oldest first, and the stored last fire time moved to the newest.
    for (let i = 1; i < caught.length; i++) expect(caught[i]!.at.getTime()).toBeGreaterThan(caught[i - 1]!.at.getTime());
    if (expected) expect(await store.getKv('schedule:tick:last')).toBe(caught[caught.length - 1]!.at.toISOString());
  });

  it('a first start records the time and catches nothing up; the window bounds catch-up', async () => {
    await setup();
    const fired: Tick[] = [];
    scheduler = new Scheduler({ store, log: quiet, fire: async (t) => void fired.push(t) });
    await scheduler.plan([wf({ catch_up: 'all' })]);
    await new Promise((r) => setTimeout(r, 100));
    expect(fired.filter((t) => t.catchUp)).toHaveLength(0);
    expect(await store.getKv('schedule:tick:last')).not.toBeNull();
    await scheduler.stop();
    await store.setKv('schedule:tick:last', new Date(Date.now() - 3 * 3_600_000).toISOString());
    const later: Tick[] = [];
    scheduler = new Scheduler({ store, log: quiet, fire: async (t) => void later.push(t) });
    await scheduler.plan([wf({ catch_up: 'all', catch_up_window: '5m' })]);
    await new Promise((r) => setTimeout(r, 200));
    expect(later.filter((t) => t.catchUp).length).toBeGreaterThanOrEqual(4);
    expect(later.filter((t) => t.catchUp).length).toBeLessThanOrEqual(5);
  });
});

describe('reloads', () => {
  it('catch up once per start: a reload (a changed pattern, any file edit) runs no missed ticks', async () => {
    await setup();
    const now = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 30_000);
    await store!.setKv('schedule:tick:last', new Date(now.getTime() - 5 * 60_000 - 1000).toISOString());
    const fired: Tick[] = [];
    scheduler = new Scheduler({ store: store!, log: quiet, fire: async (t) => void fired.push(t), now: () => now });
    await scheduler.plan([wf({ catch_up: 'all' })]);
    await new Promise((r) => setTimeout(r, 200));
    expect(fired.filter((t) => t.catchUp)).toHaveLength(5);
    // The stored last fire time goes back, as a skipped tick would have left it before: a reload
    // still catches nothing up, with the same pattern or a new one.
    await store!.setKv('schedule:tick:last', new Date(now.getTime() - 5 * 60_000 - 1000).toISOString());
    await scheduler.plan([wf({ catch_up: 'all' })]);
    await scheduler.plan([wf({ catch_up: 'all', schedule: '*/2 * * * *' })]);
    await new Promise((r) => setTimeout(r, 200));
    expect(fired.filter((t) => t.catchUp)).toHaveLength(5);
  });

  it('a tick skipped for overlap counts as dealt with: the next start does not catch it up', async () => {
    await setup();
    const fired: Tick[] = [];
    scheduler = new Scheduler({
      store: store!,
      log: quiet,
      fire: async (t) => {
        fired.push(t);
        await new Promise((r) => setTimeout(r, 4500));
      },
    });
    await scheduler.plan([wf({ schedule: '* * * * * *', overlap: 'skip', catch_up: 'all' })]);
    // The first tick comes within 1 s and runs 4.5 s; by 3.2 s at least one later tick was skipped.
    await new Promise((r) => setTimeout(r, 3200));
    const last = Date.parse((await store!.getKv('schedule:tick:last'))!);
    // The first run is still going, and the ticks after it were skipped: last moved past it.
    expect(fired).toHaveLength(1);
    expect(last).toBeGreaterThan(fired[0]!.at.getTime());
  });
});

describe('seconds-level schedules', () => {
  it('fires on time and never overlaps itself (overlap: skip)', async () => {
    await setup();
    let running = 0;
    let maxRunning = 0;
    const fired: Tick[] = [];
    scheduler = new Scheduler({
      store,
      log: quiet,
      fire: async (t) => {
        fired.push(t);
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 1500)); // longer than the 1 s period
        running--;
      },
    });
    await scheduler.plan([wf({ schedule: '* * * * * *' })]);
    await new Promise((r) => setTimeout(r, 3300));
    expect(maxRunning).toBe(1);
    expect(fired.length).toBeGreaterThanOrEqual(2);
    expect(fired.length).toBeLessThanOrEqual(3);
    for (const t of fired) expect(t.latenessMs).toBeLessThan(500);
  });

  it('overlap: queue keeps one tick waiting and runs it after the previous run', async () => {
    await setup();
    let running = 0;
    let maxRunning = 0;
    const fired: Tick[] = [];
    scheduler = new Scheduler({
      store,
      log: quiet,
      fire: async (t) => {
        fired.push(t);
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 2500));
        running--;
      },
    });
    await scheduler.plan([wf({ schedule: '* * * * * *', overlap: 'queue' })]);
    await new Promise((r) => setTimeout(r, 3300));
    // One run at a time; the ticks during the first run left exactly one queued behind it.
    expect(maxRunning).toBe(1);
    expect(fired).toHaveLength(2);
    expect(fired[1]!.at.getTime()).toBeGreaterThan(fired[0]!.at.getTime());
  });
});

describe('dueTime: a tick is named by its due time on every runner', () => {
  const everySecond = new Cron('* * * * * *', { legacyMode: true, paused: true });
  const next = (d: Date) => everySecond.nextRun(d);
  it('uses the expected due time when the timer fired a few ms off it', () => {
    const due = new Date('2026-12-03T10:00:05.000Z');
    expect(dueTime(due, new Date('2026-12-03T10:00:05.004Z'), next)).toEqual(due);
    expect(dueTime(due, new Date('2026-12-03T10:00:04.999Z'), next)).toEqual(due);
  });
  it('finds the due time from the schedule when the expectation is off (a clock jump) or missing', () => {
    expect(dueTime(new Date('2026-12-03T09:00:00.000Z'), new Date('2026-12-03T10:00:05.013Z'), next)).toEqual(new Date('2026-12-03T10:00:05.000Z'));
    expect(dueTime(null, new Date('2026-12-03T10:00:04.998Z'), next)).toEqual(new Date('2026-12-03T10:00:05.000Z'));
    const hourly = new Cron('0 * * * *', { legacyMode: true, paused: true });
    expect(dueTime(null, new Date('2026-12-03T10:00:00.020Z'), (d) => hourly.nextRun(d))).toEqual(new Date('2026-12-03T10:00:00.000Z'));
  });
});
