// Several daemons on one PostgreSQL store: each schedule tick fires exactly once across them.
// Three daemons run a seconds-level schedule for a minute (60 ticks); every tick in that minute
// must have exactly one claim and exactly one run, with no gap. Needs PostgreSQL on
// 127.0.0.1:5432 (trust auth, user postgres); fails loudly without it.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, exited, firstLineMatching, killAll, root, sleep, start, type Started, type TestDatabase } from './helpers.js';

const RUNNERS = 3;
const TICKS = 60;
let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createDatabase('skein_scale');
  dir = mkdtempSync(join(tmpdir(), 'skein-scale-'));
  cpSync(join(root, 'workflows', 'skein.yaml'), join(dir, 'workflows', 'skein.yaml'));
  writeFileSync(
    join(dir, 'workflows', 'every-second.yaml'),
    'version: 1\nname: every-second\nobject: users\ntrigger: { on: [schedule], schedule: "* * * * * *" }\nrules: { field: username, equals: nobody }\nsteps: [{ id: s, preset: qualys.activate_user, credentials: qualys, params: { login: "{{qualys_login}}" } }]\n',
  );
});

afterAll(async () => {
  await killAll();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function daemon(): Started & { ready: Promise<string> } {
  const d = start(['daemon', '--sandbox', '--listen', '127.0.0.1:0', '--state', db.url, '--log-level', 'warn'], { cwd: dir });
  return { ...d, ready: firstLineMatching(d.child, 'stderr', /listening on (http:\/\/\S+)/) };
}

describe('scale-out: schedules', () => {
  it(`${RUNNERS} daemons on one PostgreSQL fire each of ${TICKS} seconds-level ticks exactly once`, async () => {
    const runners = Array.from({ length: RUNNERS }, daemon);
    const apis = await Promise.all(runners.map((r) => r.ready));
    const selves = await Promise.all(apis.map(async (a) => ((await (await fetch(`${a}/api/cluster`)).json()) as { self: string }).self));
    const t0 = Date.now();
    // The whole seconds at which all three were up, from the first tick after t0 to the last one
    // that comes before the stop: TICKS of them, with one second of slack at each end.
    const first = Math.ceil(t0 / 1000) * 1000 + 1000;
    const last = first + (TICKS - 1) * 1000;
    await sleep(last + 1000 - Date.now());
    // Let the last tick's run finish before the stop (the run matches no record: it is quick).
    await sleep(500);
    for (const r of runners) r.child.kill('SIGTERM');
    await Promise.all(runners.map((r) => exited(r.child)));
    expect(runners.map((r) => r.child.exitCode), runners.map((r) => r.logs()).join('\n---\n')).toEqual(runners.map(() => 0));

    const runs = (
      await db.client.query<{ id: string; tick: string; status: string; catch_up: boolean }>(
        "SELECT id, (trigger_data::jsonb)->>'tick' AS tick, status, ((trigger_data::jsonb)->>'catch_up')::boolean AS catch_up FROM runs WHERE workflow = 'every-second' AND trigger = 'schedule' ORDER BY 2, 1",
      )
    ).rows;
    const claims = (await db.client.query<{ tick: string; runner: string }>("SELECT tick, runner FROM schedule_claims WHERE workflow = 'every-second' ORDER BY tick")).rows;

    // Exactly one run and one claim per second of the schedule, whatever the tick's text: a
    // tick stamped with the moment each runner's timer fired (instead of the due time) would let
    // every runner claim "its" tick and fire it. Every run finished.
    const second = (tick: string) => new Date(Math.floor(Date.parse(tick) / 1000) * 1000).toISOString();
    const runsPer = new Map<string, string[]>();
    for (const r of runs) runsPer.set(second(r.tick), [...(runsPer.get(second(r.tick)) ?? []), r.tick]);
    const claimsPer = new Map<string, string[]>();
    for (const c of claims) claimsPer.set(second(c.tick), [...(claimsPer.get(second(c.tick)) ?? []), `${c.tick} by ${c.runner}`]);
    expect([...runsPer].filter(([, ticks]) => ticks.length !== 1), 'seconds with more than one scheduled run').toEqual([]);
    expect([...claimsPer].filter(([, c]) => c.length !== 1), 'seconds claimed more than once').toEqual([]);
    expect(runs.filter((r) => r.status !== 'succeeded').map((r) => [r.id, r.status])).toEqual([]);
    // The runs are the claims: every claimed tick ran, nothing ran unclaimed.
    expect(runs.map((r) => r.tick).sort()).toEqual(claims.map((c) => c.tick).sort());
    // Every whole second of the minute all three were up fired, and no second is missing between
    // the first and the last that fired.
    const fired = [...runsPer.keys()].sort();
    const expected = Array.from({ length: TICKS }, (_, i) => new Date(first + i * 1000).toISOString());
    expect(expected.filter((t) => !runsPer.has(t)), 'seconds of the minute that never fired').toEqual([]);
    const times = fired.map((t) => Date.parse(t));
    expect(times.slice(1).map((t, i) => [fired[i], t - times[i]!]).filter(([, d]) => d !== 1000), 'gaps between fired seconds').toEqual([]);
    // A tick is the time it was due (Tick.at), a whole second here, not when a timer fired.
    expect(runs.filter((r) => Date.parse(r.tick) % 1000 !== 0).map((r) => r.tick), 'ticks not on their due second').toEqual([]);
    // Fresh store and a seconds-level schedule: nothing to catch up, every run fired on time.
    expect(runs.filter((r) => r.catch_up).map((r) => r.tick)).toEqual([]);
    // The ticks were claimed by these daemons, and more than one of them won ticks.
    const winners = new Set(claims.map((c) => c.runner));
    expect([...winners].filter((w) => !selves.includes(w))).toEqual([]);
    expect(winners.size).toBeGreaterThan(1);
  }, 100_000);
});
