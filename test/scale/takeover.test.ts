// A runner on another machine dies: its work is taken over by lease timeout, never earlier.
// Two daemons share one PostgreSQL store and a create-user backlog. The victim's `runners` row is
// rewritten to say it lives on another host, so the survivor cannot see that its process is gone
// (the same-host shortcut of deadLocalRunners) and must wait out the lease time, as in a real
// multi-machine deployment. The victim is killed with SIGKILL while it holds leased events and a
// running run. Judged by the store (nothing of the victim's is touched before its heartbeat is a
// lease time old; afterwards its runs end cancelled/interrupted on the survivor and its events
// are handled by the survivor) and by the sandbox's own state (each user created exactly once).
// Needs PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres); fails loudly without it.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, createDatabase, exited, firstLineMatching, killAll, root, sleep, start, type Started, type TestDatabase } from './helpers.js';

const N = 300;
const TTL_MS = 4000;
/** The sandbox's concurrency limit per (subscription, script), shared by both daemons. */
const LIMIT = 2;
const WF = 'qualys-create-user';
const OTHER_HOST = 'another-host';
const env = { ...process.env, QUALYS_USERNAME: 'sandbox_mgr', QUALYS_PASSWORD: 'sandbox-password' };
const run = promisify(execFile);

let db: TestDatabase;
let dir: string;
let sandboxUrl: string;

interface ClusterRunner {
  id: string;
  role: string;
  host: string;
  pid: number;
  alive: boolean;
  heartbeat_at: string;
  leases: { events: Record<string, number>; runs: string[] };
}
interface Cluster {
  self: string;
  lease_ttl_ms: number;
  runners: ClusterRunner[];
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

beforeAll(async () => {
  db = await createDatabase('skein_takeover');
  dir = mkdtempSync(join(tmpdir(), 'skein-takeover-'));
  mkdirSync(join(dir, 'workflows'));
  for (const f of ['skein.yaml', `${WF}.yaml`]) copyFileSync(join(root, 'workflows', f), join(dir, 'workflows', f));
  const sandbox = start(['sandbox', 'qualys', '--port', '0', '--latency', '10', '--concurrency', String(LIMIT)], { env });
  sandboxUrl = await firstLineMatching(sandbox.child, 'stdout', /(http:\/\/127\.0\.0\.1:\d+)/);
  const rows = ['username,email,first_name,last_name,title,phone,address1,city,country,status'];
  for (let i = 0; i < N; i++) rows.push(`t${i},t${i}@corp.test,User,Number${i},Engineer,+1 555 0100,1 Main St,Berlin,Germany,Active`);
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
    ['daemon', '--listen', '127.0.0.1:0', '--state', db.url, '--var', `qualys_api_url=${sandboxUrl}`, '--poll', '50ms', '--lease-ttl', `${TTL_MS / 1000}s`, '--claim-batch', '10', '--log-level', 'warn'],
    { cwd: dir, env },
  );
  return { ...d, ready: firstLineMatching(d.child, 'stderr', /listening on (http:\/\/\S+)/) };
}

async function ourUsers(): Promise<Array<{ email: string; login: string }>> {
  const users = await getJson<Array<{ email: string; login: string }>>(`${sandboxUrl}/__sandbox/users`);
  return users.filter((u) => u.email.endsWith('@corp.test'));
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  return Number((await db.client.query<{ n: string }>(sql, params)).rows[0]!.n);
}
/** The import's `created` events handled by the workflow (its own response mappings write more events). */
const handledCount = () => count("SELECT COUNT(*) AS n FROM event_handled h JOIN events e ON e.id = h.event_id WHERE h.workflow = $1 AND e.kind = 'created'", [WF]);

/** What the runner holds, by the store: unhandled leased events (with expiry) and running runs. */
async function holdings(runner: string): Promise<{ leases: Array<{ id: number; expires_at: string }>; runs: string[]; inDoubt: number }> {
  const leases = (
    await db.client.query<{ id: string; expires_at: string }>(
      'SELECT l.event_id::text AS id, l.expires_at FROM event_leases l WHERE l.runner = $1 AND l.workflow = $2 AND NOT EXISTS (SELECT 1 FROM event_handled h WHERE h.event_id = l.event_id AND h.workflow = l.workflow) ORDER BY l.event_id',
      [runner, WF],
    )
  ).rows.map((r) => ({ id: Number(r.id), expires_at: r.expires_at }));
  const runs = (await db.client.query<{ id: string }>("SELECT id FROM runs WHERE status = 'running' AND runner = $1 ORDER BY id", [runner])).rows.map((r) => r.id);
  const inDoubt = await count("SELECT COUNT(*) AS n FROM run_steps WHERE run_id = ANY($1) AND status IN ('running', 'unknown')", [runs]);
  return { leases, runs, inDoubt };
}

describe('scale-out: takeover by lease timeout', () => {
  it(`a runner on "another host" killed mid-run keeps its work for the lease time (${TTL_MS} ms), then the survivor takes it over; each user created once`, async () => {
    const [survivor, victim] = [daemon(), daemon()];
    const [survivorApi] = await Promise.all([survivor.ready, victim.ready]);
    const victimApi = await victim.ready;
    const survivorId = (await getJson<Cluster>(`${survivorApi}/api/cluster`)).self;
    const victimId = (await getJson<Cluster>(`${victimApi}/api/cluster`)).self;
    expect(victimId).not.toBe(survivorId);

    // The victim now looks like a runner on another machine: the survivor cannot check its pid.
    const moved = await db.client.query('UPDATE runners SET host = $1 WHERE id = $2', [OTHER_HOST, victimId]);
    expect(moved.rowCount, `runners row of ${victimId}`).toBe(1);
    const before = await getJson<Cluster>(`${survivorApi}/api/cluster`);
    expect(before.lease_ttl_ms).toBe(TTL_MS);
    expect(before.runners.find((r) => r.id === victimId)).toMatchObject({ host: OTHER_HOST, alive: true, pid: victim.child.pid });

    // Kill the victim once the backlog is under way and it holds leased events and a running run
    // with create calls journalled as running (in doubt: sent or about to be).
    const waitUntil = Date.now() + 30_000;
    for (;;) {
      if (Date.now() > waitUntil) throw new Error(`the victim never held a running run and leased events with work left; handled ${await handledCount()}/${N}\n${victim.logs()}`);
      const done = await handledCount();
      if (done >= N * 0.1) {
        if (done >= N * 0.7) throw new Error(`backlog nearly drained (${done}/${N}) before the victim held work\n${victim.logs()}`);
        const h = await holdings(victimId);
        if (h.leases.length >= 3 && h.runs.length > 0 && h.inDoubt > 0) break;
      }
      await sleep(10);
    }
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    await exited(victim.child);
    // Let PostgreSQL finish whatever the dead process had already sent before its sockets closed.
    await sleep(200);

    // What the dead runner holds, frozen from now on; its last heartbeat fixes when it lapses.
    const held = await holdings(victimId);
    const victimRow = (await db.client.query<{ host: string; heartbeat_at: string }>('SELECT host, heartbeat_at FROM runners WHERE id = $1', [victimId])).rows[0];
    expect(victimRow, 'the victim was removed from runners at once: the same-host shortcut fired').toBeDefined();
    expect(victimRow!.host).toBe(OTHER_HOST);
    expect(held.leases.length, 'unhandled events leased by the victim at its death').toBeGreaterThan(0);
    expect(held.runs.length, 'runs the victim was running at its death').toBeGreaterThan(0);
    expect(held.inDoubt, 'create steps of the victim in doubt at its death').toBeGreaterThan(0);
    const heldIds = held.leases.map((l) => l.id);
    const heldKeys = (await db.client.query<{ key: string }>('SELECT key FROM events WHERE id = ANY($1)', [heldIds])).rows.map((r) => r.key);
    const usersAtKill = new Set((await ourUsers()).map((u) => u.email));
    // Records in doubt whose create had already reached the sandbox: the survivor must find them, not re-send.
    const landed = (await db.client.query<{ key: string }>("SELECT key FROM records WHERE object = 'users' AND key = ANY($1) AND fields->>'email' = ANY($2)", [heldKeys, [...usersAtKill]])).rows.length;
    // The runner counts as dead a lease time after its last heartbeat; each lease runs out a lease
    // time after that heartbeat or after its claim, if later. None lapses before the runner is dead.
    const lapseAt = Date.parse(victimRow!.heartbeat_at) + TTL_MS;
    const lastExpiry = Math.max(...held.leases.map((l) => Date.parse(l.expires_at)));
    expect(held.leases.filter((l) => Date.parse(l.expires_at) < lapseAt), `leases lapsing before the runner's heartbeat (${victimRow!.heartbeat_at}) does`).toEqual([]);
    expect(lastExpiry - killedAt, 'a lease outlasting the runner by more than a lease time').toBeLessThanOrEqual(TTL_MS + 100);
    const inDoubt = held.inDoubt;

    // (1) Until the lease time has passed since its last heartbeat, nothing of the victim's is
    // touched, though the survivor keeps claiming and running the rest of the backlog.
    const handledAtKill = await handledCount();
    const watchUntil = lapseAt - 150;
    expect(watchUntil - killedAt, `the victim's last heartbeat (${victimRow!.heartbeat_at}) leaves too short a window to tell the lease-timeout path from the same-host shortcut`).toBeGreaterThan(TTL_MS / 3 + 300);
    let checks = 0;
    let sawAlive = false;
    while (Date.now() < watchUntil) {
      const t = Date.now();
      const still = await holdings(victimId);
      const row = await db.client.query('SELECT 1 FROM runners WHERE id = $1', [victimId]);
      const handled = (await db.client.query<{ id: string }>('SELECT event_id::text AS id FROM event_handled WHERE workflow = $1 AND event_id = ANY($2)', [WF, heldIds])).rows.map((r) => Number(r.id));
      const runsNow = (await db.client.query<{ id: string; status: string; runner: string | null }>('SELECT id, status, runner FROM runs WHERE id = ANY($1) ORDER BY id', [held.runs])).rows;
      if (Date.now() >= watchUntil) break; // the reads straddled the deadline: not conclusive
      const at = `${t - killedAt} ms after the kill (lease lapses ${lapseAt - killedAt} ms after it)`;
      expect(row.rowCount, `victim's runners row gone ${at}`).toBe(1);
      expect(handled, `victim's leased events handled by another runner ${at}`).toEqual([]);
      expect(still.leases.map((l) => l.id), `victim's event leases ${at}`).toEqual(heldIds);
      expect(runsNow.map((r) => [r.id, r.status, r.runner]), `victim's runs ${at}`).toEqual(held.runs.map((id) => [id, 'running', victimId]));
      if (!sawAlive && Date.now() < lapseAt - 500) {
        const seen = (await getJson<Cluster>(`${survivorApi}/api/cluster`)).runners.find((r) => r.id === victimId);
        if (Date.now() < lapseAt - 300) {
          expect(seen, `cluster API ${at}`).toMatchObject({ alive: true, host: OTHER_HOST, leases: { runs: held.runs } });
          sawAlive = true;
        }
      }
      checks++;
      await sleep(50);
    }
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(TTL_MS / 3 + 300);
    expect(checks, 'checks made while the victim was not yet due for takeover').toBeGreaterThan(5);
    expect(sawAlive, 'the survivor\'s cluster API showed the dead victim still alive within its lease time').toBe(true);
    expect(await handledCount(), 'the survivor handled other events while the victim\'s stayed put').toBeGreaterThan(handledAtKill);

    // (2) After the lease time the survivor takes over: the victim's runs are adopted and closed
    // as interrupted, its leases go, its events are handled.
    const takeoverBy = lastExpiry + 10_000;
    let adoptedSeenAt: number | undefined;
    let releasedSeenAt: number | undefined;
    for (;;) {
      const now = Date.now();
      const runsNow = (await db.client.query<{ id: string; status: string; runner: string | null }>('SELECT id, status, runner FROM runs WHERE id = ANY($1)', [held.runs])).rows;
      if (adoptedSeenAt === undefined && runsNow.every((r) => r.status !== 'running' && r.runner !== victimId)) adoptedSeenAt = now;
      if (releasedSeenAt === undefined && (await holdings(victimId)).leases.length === 0) releasedSeenAt = now;
      const handled = await count('SELECT COUNT(*) AS n FROM event_handled WHERE workflow = $1 AND event_id = ANY($2)', [WF, heldIds]);
      if (adoptedSeenAt !== undefined && releasedSeenAt !== undefined && handled === heldIds.length) break;
      if (now > takeoverBy) {
        throw new Error(
          `no takeover ${now - lapseAt} ms after the victim's lease lapsed: runs ${JSON.stringify(runsNow)}, unhandled events still leased by the victim ${JSON.stringify((await holdings(victimId)).leases)}, ` +
            `handled ${handled}/${heldIds.length} of its events\n--- survivor ---\n${survivor.logs()}`,
        );
      }
      await sleep(50);
    }
    // Taken over by the lease timeout: not before the lapse (watched above), and within the lease
    // time plus one adoption interval (ttl/3) after it, with slack for a loaded machine.
    expect(adoptedSeenAt - lapseAt, 'adoption after the lapse (ms)').toBeLessThan(TTL_MS / 3 + 2500);

    // Everything finishes on the survivor.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const p = {
        handled: await handledCount(),
        running: await count("SELECT COUNT(*) AS n FROM runs WHERE status = 'running'"),
        mapped: await count("SELECT COUNT(*) AS n FROM records WHERE object = 'users' AND COALESCE(fields->>'qualys_login', '') <> ''"),
      };
      if (p.handled === N && p.running === 0 && p.mapped === N) break;
      if (Date.now() > deadline) throw new Error(`work not finished 60 s after the takeover: ${JSON.stringify(p)}\n--- survivor ---\n${survivor.logs()}`);
      await sleep(100);
    }

    const runs = (
      await db.client.query<{ id: string; status: string; runner: string | null; trigger: string; trigger_data: string; summary: string | null }>(
        'SELECT id, status, runner, trigger, trigger_data, summary FROM runs WHERE workflow = $1',
        [WF],
      )
    ).rows;
    const byId = new Map(runs.map((r) => [r.id, r]));
    // The victim's runs: adopted by the survivor and closed as interrupted.
    for (const id of held.runs) {
      const r = byId.get(id)!;
      expect([r.id, r.status, r.runner]).toEqual([id, 'cancelled', survivorId]);
      expect(JSON.parse(r.summary ?? '{}'), `summary of adopted run ${id}`).toMatchObject({ interrupted: true });
    }
    // Its leased events: each handled exactly once, in a run of the survivor (not one of the
    // victim's), which finished the record.
    const succeeded = new Set(
      (await db.client.query<{ run_id: string; record_key: string }>("SELECT rr.run_id, rr.record_key FROM run_records rr JOIN runs r ON r.id = rr.run_id WHERE r.workflow = $1 AND rr.status = 'succeeded'", [WF])).rows.map(
        (r) => `${r.run_id}\u0000${r.record_key}`,
      ),
    );
    const keyOf = new Map((await db.client.query<{ id: string; key: string }>('SELECT id::text AS id, key FROM events WHERE id = ANY($1)', [heldIds])).rows.map((r) => [Number(r.id), r.key]));
    const carriers = new Map<number, string[]>();
    for (const r of runs) if (r.trigger === 'event') for (const e of (JSON.parse(r.trigger_data) as { events: number[] }).events) carriers.set(e, [...(carriers.get(e) ?? []), r.id]);
    const finishers = heldIds.map((e) => [e, (carriers.get(e) ?? []).filter((id) => succeeded.has(`${id}\u0000${keyOf.get(e)}`)).map((id) => byId.get(id)!.runner)]);
    expect(finishers, 'runners whose runs finished each of the victim\'s leased events').toEqual(heldIds.map((e) => [e, [survivorId]]));
    // Only the adopted runs ended other than succeeded.
    expect(runs.filter((r) => r.status !== 'succeeded' && !held.runs.includes(r.id)).map((r) => [r.id, r.status, r.summary])).toEqual([]);

    // (3) The sandbox's own state: one Qualys user per record, none twice, each mapped back; each
    // create sent exactly once (calls in doubt at the kill were looked up, not re-sent).
    const users = await ourUsers();
    const byEmail = new Map<string, string[]>();
    for (const u of users) byEmail.set(u.email, [...(byEmail.get(u.email) ?? []), u.login]);
    expect([...byEmail].filter(([, logins]) => logins.length > 1), 'emails with more than one Qualys user').toEqual([]);
    expect(users).toHaveLength(N);
    const records = (await db.client.query<{ key: string; email: string; login: string | null }>("SELECT key, fields->>'email' AS email, fields->>'qualys_login' AS login FROM records WHERE object = 'users'")).rows;
    expect(records).toHaveLength(N);
    expect(records.filter((r) => !r.login).map((r) => r.key), 'records without a login').toEqual([]);
    expect(records.filter((r) => JSON.stringify(byEmail.get(r.email)) !== JSON.stringify([r.login])).map((r) => r.key), 'records whose login is not their Qualys user').toEqual([]);
    const stats = (await getJson<{ byScript: Record<string, { requests: number; blocked409: number }> }>(`${sandboxUrl}/__sandbox/stats`)).byScript;
    expect(stats['user.php'], `sandbox stats ${JSON.stringify(stats)} (${inDoubt} creates in doubt at the kill)`).toBeDefined();
    expect(stats['user.php']!.requests - stats['user.php']!.blocked409, `creates sent (${inDoubt} in doubt at the kill, ${landed} of them already created)`).toBe(N);

    // (4) No run left running, by the store and the survivor's API; the victim shows dead there,
    // holding nothing.
    expect((await db.client.query("SELECT id FROM runs WHERE status = 'running'")).rows).toEqual([]);
    expect(await getJson<unknown[]>(`${survivorApi}/api/runs?status=running`)).toEqual([]);
    const after = await getJson<Cluster>(`${survivorApi}/api/cluster`);
    expect(after.runners.find((r) => r.id === victimId)).toMatchObject({ alive: false, host: OTHER_HOST, leases: { events: {}, runs: [] } });
    expect(after.runners.find((r) => r.id === survivorId)).toMatchObject({ alive: true, leases: { runs: [] } });

    survivor.child.kill('SIGTERM');
    await exited(survivor.child);
    expect(survivor.child.exitCode, survivor.logs()).toBe(0);
  }, 90_000);
});
