// Three daemons on one PostgreSQL store split a 1,000-record create-user backlog; one of them is
// killed with SIGKILL while it holds work. Judged by the sandbox's own state and the store: every
// record got exactly one Qualys user, each event was handled once, the work was shared, the
// killed runner's work was taken over, and the three together kept under the sandbox's
// concurrency limit. Needs PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres); fails loudly
// without it.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, createDatabase, exited, firstLineMatching, killAll, root, sleep, start, type Started, type TestDatabase } from './helpers.js';

const N = 1000;
const RUNNERS = 3;
/** The sandbox's concurrency limit per (subscription, script), shared by all daemons. */
const LIMIT = 2;
const WF = 'qualys-create-user';
const env = { ...process.env, QUALYS_USERNAME: 'sandbox_mgr', QUALYS_PASSWORD: 'sandbox-password' };
const run = promisify(execFile);

let db: TestDatabase;
let dir: string;
let sandbox: Started;
let sandboxUrl: string;

interface ClusterRunner {
  id: string;
  role: string;
  host: string;
  pid: number;
  info: unknown;
  alive: boolean;
  leases: { events: Record<string, number>; runs: string[] };
}
interface Cluster {
  self: string;
  lease_ttl_ms: number;
  runners: ClusterRunner[];
}
interface ScriptStats {
  requests: number;
  maxConcurrentSeen: number;
  blocked409: number;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

beforeAll(async () => {
  db = await createDatabase('skein_cluster');
  dir = mkdtempSync(join(tmpdir(), 'skein-cluster-'));
  // Only the create-user workflow: the events and calls counted below are all its own.
  mkdirSync(join(dir, 'workflows'));
  for (const f of ['skein.yaml', `${WF}.yaml`]) copyFileSync(join(root, 'workflows', f), join(dir, 'workflows', f));
  sandbox = start(['sandbox', 'qualys', '--port', '0', '--latency', '5', '--concurrency', String(LIMIT)], { env });
  sandboxUrl = await firstLineMatching(sandbox.child, 'stdout', /(http:\/\/127\.0\.0\.1:\d+)/);
  const rows = ['username,email,first_name,last_name,title,phone,address1,city,country,status'];
  for (let i = 0; i < N; i++) rows.push(`u${i},u${i}@corp.test,User,Number${i},Engineer,+1 555 0100,1 Main St,Berlin,Germany,Active`);
  writeFileSync(join(dir, 'people.csv'), rows.join('\n') + '\n');
  await run(process.execPath, [bin, 'records', 'import', 'people.csv', '--state', db.url], { cwd: dir, env });
}, 60_000);

afterAll(async () => {
  await killAll();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function daemon(): Started & { ready: Promise<string> } {
  const d = start(
    ['daemon', '--listen', '127.0.0.1:0', '--state', db.url, '--var', `qualys_api_url=${sandboxUrl}`, '--poll', '50ms', '--lease-ttl', '3s', '--claim-batch', '20', '--log-level', 'warn'],
    { cwd: dir, env },
  );
  return { ...d, ready: firstLineMatching(d.child, 'stderr', /listening on (http:\/\/\S+)/) };
}

async function ourUsers(): Promise<Array<{ email: string; login: string }>> {
  const users = await getJson<Array<{ email: string; login: string }>>(`${sandboxUrl}/__sandbox/users`);
  return users.filter((u) => u.email.endsWith('@corp.test'));
}

/** Where the work stands, from the store. */
async function progress(): Promise<{ createdEvents: number; handledCreated: number; unhandled: number; running: number; mapped: number }> {
  const r = await db.client.query<Record<string, string>>(
    `SELECT
       (SELECT COUNT(*) FROM events WHERE object = 'users' AND kind = 'created') AS created_events,
       (SELECT COUNT(*) FROM event_handled h JOIN events e ON e.id = h.event_id WHERE h.workflow = $1 AND e.kind = 'created') AS handled_created,
       (SELECT COUNT(*) FROM events e WHERE e.object = 'users' AND NOT EXISTS (SELECT 1 FROM event_handled h WHERE h.event_id = e.id AND h.workflow = $1)) AS unhandled,
       (SELECT COUNT(*) FROM runs WHERE status = 'running') AS running,
       (SELECT COUNT(*) FROM records WHERE object = 'users' AND COALESCE(fields->>'qualys_login', '') <> '') AS mapped`,
    [WF],
  );
  const row = r.rows[0]!;
  return { createdEvents: Number(row.created_events), handledCreated: Number(row.handled_created), unhandled: Number(row.unhandled), running: Number(row.running), mapped: Number(row.mapped) };
}

describe('scale-out: event backlog across runners', () => {
  it(`${RUNNERS} daemons split ${N} create-user events; one killed mid-run; each user created exactly once within the sandbox's limit`, async () => {
    // The import wrote one `created` event per record, and none is handled yet.
    expect(await progress()).toMatchObject({ createdEvents: N, handledCreated: 0 });

    const daemons = Array.from({ length: RUNNERS }, daemon);
    const apis = await Promise.all(daemons.map((d) => d.ready));
    const selves = await Promise.all(apis.map(async (a) => (await getJson<Cluster>(`${a}/api/cluster`)).self));
    expect(new Set(selves).size).toBe(RUNNERS);

    // Wait until 20% of the creates reached the sandbox, then kill a runner that holds work: a
    // running run of its own (or, failing that, leased events), as the cluster API shows it.
    let kill: { index: number; row: ClusterRunner; done: number; seen: Cluster; leased: number[] } | undefined;
    const waitUntil = Date.now() + 60_000;
    while (!kill) {
      if (Date.now() > waitUntil) throw new Error(`no runner held work once 20% was done; progress ${JSON.stringify(await progress())}`);
      const done = (await ourUsers()).length;
      if (done >= N * 0.2) {
        const seen = await getJson<Cluster>(`${apis[0]}/api/cluster`);
        const busy = (r: ClusterRunner) => r.role === 'daemon' && daemons.some((d) => d.child.pid === r.pid);
        const pick =
          seen.runners.find((r) => busy(r) && r.leases.runs.length > 0) ??
          seen.runners.find((r) => busy(r) && Object.values(r.leases.events).some((n) => n > 0));
        if (pick) {
          const index = daemons.findIndex((d) => d.child.pid === pick.pid);
          // The event ids it holds, for telling afterwards who handled them.
          const leased = (await db.client.query<{ id: string }>("SELECT l.event_id::text AS id FROM event_leases l WHERE l.runner = $1 AND l.workflow = $2 AND NOT EXISTS (SELECT 1 FROM event_handled h WHERE h.event_id = l.event_id AND h.workflow = l.workflow)", [pick.id, WF])).rows.map((r) => Number(r.id));
          daemons[index]!.child.kill('SIGKILL');
          kill = { index, row: pick, done, seen, leased };
          break;
        }
      }
      await sleep(20);
    }
    const victim = daemons[kill.index]!;
    await exited(victim.child);
    const survivors = daemons.filter((_, i) => i !== kill!.index);
    const survivorApis = apis.filter((_, i) => i !== kill!.index);
    const survivorIds = selves.filter((_, i) => i !== kill!.index);
    const victimId = selves[kill.index]!;
    expect(kill.row.id).toBe(victimId);
    // The kill landed mid-run: work was left, and the cluster API showed all three runners alive,
    // the victim holding leases.
    expect(kill.done).toBeLessThan(N);
    expect(kill.seen.runners.filter((r) => selves.includes(r.id)).map((r) => [r.id, r.alive]).sort()).toEqual(selves.map((id) => [id, true]).sort());
    const victimRuns = kill.row.leases.runs;
    const victimEvents = Object.values(kill.row.leases.events).reduce((a, b) => a + b, 0);
    expect(victimRuns.length + victimEvents).toBeGreaterThan(0);

    // Everything finishes on the two survivors.
    const deadline = Date.now() + 90_000;
    let p = await progress();
    while (!(p.handledCreated === N && p.unhandled === 0 && p.running === 0 && p.mapped === N)) {
      if (Date.now() > deadline) {
        throw new Error(
          `work not finished 90 s after the kill: ${JSON.stringify(p)}; sandbox has ${(await ourUsers()).length} users\n` +
            survivors.map((s, i) => `--- survivor ${i} (alive: ${s.child.exitCode === null}) ---\n${s.logs()}`).join('\n'),
        );
      }
      await sleep(200);
      p = await progress();
    }

    // The sandbox's own state: one Qualys user per record, none twice, each mapped back.
    const users = await ourUsers();
    const byEmail = new Map<string, string[]>();
    for (const u of users) byEmail.set(u.email, [...(byEmail.get(u.email) ?? []), u.login]);
    expect([...byEmail].filter(([, logins]) => logins.length > 1)).toEqual([]);
    expect(users).toHaveLength(N);
    const records = (await db.client.query<{ key: string; email: string; login: string | null }>("SELECT key, fields->>'email' AS email, fields->>'qualys_login' AS login FROM records WHERE object = 'users'")).rows;
    expect(records).toHaveLength(N);
    expect(records.filter((r) => !r.login).map((r) => r.key)).toEqual([]);
    expect(records.filter((r) => JSON.stringify(byEmail.get(r.email)) !== JSON.stringify([r.login])).map((r) => r.key)).toEqual([]);

    // No run left running, by the store, the API and the CLI.
    expect((await db.client.query("SELECT id FROM runs WHERE status = 'running'")).rows).toEqual([]);
    expect(await getJson<unknown[]>(`${survivorApis[0]}/api/runs?status=running`)).toEqual([]);
    const { stdout } = await run(process.execPath, [bin, 'runs', 'list', '--status', 'running', '--format', 'json', '--state', db.url], { cwd: dir, env });
    expect(JSON.parse(stdout)).toEqual([]);

    // Each created event handled once: a handled row for the workflow (waited for above), and
    // exactly one run that carried the event and processed its record to success. A run
    // cancelled by the kill counts for the records it finished before it; the records it left
    // in flight must have been finished by another run, and none finished twice.
    const runs = (
      await db.client.query<{ id: string; status: string; runner: string | null; trigger: string; trigger_data: string; summary: string | null }>(
        'SELECT id, status, runner, trigger, trigger_data, summary FROM runs WHERE workflow = $1',
        [WF],
      )
    ).rows;
    expect(runs.filter((r) => r.trigger !== 'event').map((r) => r.id)).toEqual([]);
    const created = (await db.client.query<{ id: string; key: string }>("SELECT id::text AS id, key FROM events WHERE object = 'users' AND kind = 'created' ORDER BY id")).rows.map((r) => ({ id: Number(r.id), key: r.key }));
    const recordRows = (await db.client.query<{ run_id: string; record_key: string; status: string }>('SELECT rr.run_id, rr.record_key, rr.status FROM run_records rr JOIN runs r ON r.id = rr.run_id WHERE r.workflow = $1', [WF])).rows;
    const succeededIn = new Set(recordRows.filter((r) => r.status === 'succeeded').map((r) => `${r.run_id}\u0000${r.record_key}`));
    const carriers = new Map<number, string[]>();
    for (const r of runs) {
      for (const e of (JSON.parse(r.trigger_data) as { events: number[] }).events) carriers.set(e, [...(carriers.get(e) ?? []), r.id]);
    }
    const handledBy = (e: { id: number; key: string }) => (carriers.get(e.id) ?? []).filter((id) => succeededIn.has(`${id}\u0000${e.key}`));
    expect(created.filter((e) => handledBy(e).length !== 1).map((e) => [e.id, e.key, carriers.get(e.id) ?? [], handledBy(e)])).toEqual([]);
    // Only a run cancelled by the kill may leave a record unfinished.
    const cancelled = new Set(runs.filter((r) => r.status === 'cancelled').map((r) => r.id));
    expect(recordRows.filter((r) => r.status !== 'succeeded' && !cancelled.has(r.run_id))).toEqual([]);
    expect(runs.filter((r) => r.status !== 'succeeded' && r.status !== 'cancelled').map((r) => [r.id, r.status, r.summary])).toEqual([]);

    // The work really was split: each survivor ran event runs of its own.
    const finishedBy = new Map<string, number>();
    for (const r of runs) if (r.status === 'succeeded') finishedBy.set(r.runner ?? '(none)', (finishedBy.get(r.runner ?? '(none)') ?? 0) + 1);
    for (const id of survivorIds) expect(finishedBy.get(id) ?? 0, `event runs finished by survivor ${id}: ${JSON.stringify([...finishedBy])}`).toBeGreaterThan(0);

    // The killed runner's work was taken over: a run it was running ended cancelled (adopted), or
    // events it held were handled in runs of the survivors.
    const statusOf = new Map(runs.map((r) => [r.id, r]));
    const adopted = victimRuns.filter((id) => statusOf.get(id)?.status === 'cancelled');
    for (const id of adopted) expect(JSON.parse(statusOf.get(id)!.summary ?? '{}')).toMatchObject({ interrupted: true });
    const victimHeld = new Set([...kill.leased, ...victimRuns.flatMap((id) => (JSON.parse(statusOf.get(id)?.trigger_data ?? '{"events":[]}') as { events: number[] }).events)]);
    const takenOver = created.filter((e) => victimHeld.has(e.id) && handledBy(e).some((id) => !victimRuns.includes(id) && survivorIds.includes(statusOf.get(id)?.runner ?? '')));
    expect(adopted.length + takenOver.length, `victim runs ${JSON.stringify(victimRuns)} (statuses ${JSON.stringify(victimRuns.map((id) => statusOf.get(id)?.status))}), leased events ${victimEvents} (${kill.leased.length} by the store)`).toBeGreaterThan(0);
    // Nothing is owned by the dead runner any more.
    expect((await db.client.query('SELECT event_id FROM event_leases WHERE runner = $1', [victimId])).rows).toEqual([]);

    // The cluster API of a survivor: both survivors alive, the victim dead or removed, no leases
    // left on anything.
    const cluster = await getJson<Cluster>(`${survivorApis[0]}/api/cluster`);
    expect(survivorIds).toContain(cluster.self);
    expect(cluster.lease_ttl_ms).toBe(3000);
    for (const id of survivorIds) expect(cluster.runners.find((r) => r.id === id)).toMatchObject({ alive: true, role: 'daemon', leases: { runs: [] } });
    const dead = cluster.runners.find((r) => r.id === victimId);
    if (dead) expect(dead.alive).toBe(false);
    for (const r of cluster.runners) expect(Object.values(r.leases.events).filter((n) => n > 0)).toEqual([]);

    // Each create was sent exactly once (the ones in doubt after the kill were looked up, not
    // re-sent), and the three daemons together never ran more calls at once than the sandbox
    // allows: they share the concurrency budget through the store.
    const stats = (await getJson<{ byScript: Record<string, ScriptStats> }>(`${sandboxUrl}/__sandbox/stats`)).byScript;
    const create = stats['user.php'];
    expect(create, `sandbox stats ${JSON.stringify(stats)}`).toBeDefined();
    expect(create!.requests - create!.blocked409).toBe(N);
    expect(Object.entries(stats).map(([script, s]) => [script, s.blocked409]), `sandbox stats ${JSON.stringify(stats)}`).toEqual(Object.keys(stats).map((script) => [script, 0]));
    expect(Object.entries(stats).filter(([, s]) => s.maxConcurrentSeen > LIMIT).map(([script, s]) => [script, s.maxConcurrentSeen])).toEqual([]);

    for (const s of survivors) s.child.kill('SIGTERM');
    await Promise.all(survivors.map((s) => exited(s.child)));
    expect(survivors.map((s) => s.child.exitCode)).toEqual([0, 0]);
  }, 150_000);
});
