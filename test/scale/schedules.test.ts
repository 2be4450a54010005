// Several daemons on one PostgreSQL store: each schedule tick fires exactly once across them.
// Needs PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres); fails loudly without it.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'skein.js');
const ADMIN = process.env.SKEIN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const RUNNERS = 3;
let admin: pg.Client;
let db: string;
let url: string;
let dir: string;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: ADMIN, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at 127.0.0.1:5432 (${(err as Error).message}); start it as .ci/run does, or set SKEIN_TEST_PG_URL`);
  }
  db = `skein_scale_${randomBytes(5).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${db}`);
  const u = new URL(ADMIN);
  u.pathname = `/${db}`;
  url = u.toString();
  dir = mkdtempSync(join(tmpdir(), 'skein-scale-'));
  cpSync(join(root, 'workflows', 'skein.yaml'), join(dir, 'workflows', 'skein.yaml'));
  writeFileSync(
    join(dir, 'workflows', 'every-second.yaml'),
    'version: 1\nname: every-second\nobject: users\ntrigger: { on: [schedule], schedule: "* * * * * *" }\nrules: { field: username, equals: nobody }\nsteps: [{ id: s, preset: qualys.activate_user, credentials: qualys, params: { login: "{{qualys_login}}" } }]\n',
  );
});

afterAll(async () => {
  await admin?.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
  await admin?.end();
  rmSync(dir, { recursive: true, force: true });
});

function daemon(): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, [bin, 'daemon', '--sandbox', '--listen', '127.0.0.1:0', '--state', url, '--log-level', 'warn'], { cwd: dir });
  child.stdout!.resume();
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d) => String(d).includes('listening') && resolve());
    child.once('exit', (c) => reject(new Error(`daemon exited ${c}`)));
  });
  return { child, ready };
}

describe('scale-out: schedules', () => {
  it(`${RUNNERS} daemons on one PostgreSQL fire each seconds-level tick exactly once`, async () => {
    const runners = Array.from({ length: RUNNERS }, daemon);
    await Promise.all(runners.map((r) => r.ready));
    await new Promise((r) => setTimeout(r, 12_000));
    for (const r of runners) r.child.kill('SIGTERM');
    await Promise.all(runners.map((r) => new Promise((res) => r.child.once('exit', res))));
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => undefined);
    await c.connect();
    let runs: pg.QueryResult<{ tick: string; n: string }>;
    let claims: pg.QueryResult<{ runner: string; n: string }>;
    try {
      runs = await c.query("SELECT (trigger_data::jsonb)->>'tick' AS tick, COUNT(*) AS n FROM runs WHERE workflow = 'every-second' AND trigger = 'schedule' GROUP BY 1");
      claims = await c.query("SELECT runner, COUNT(*) AS n FROM schedule_claims WHERE workflow = 'every-second' GROUP BY 1");
    } finally {
      await c.end();
    }
    expect(runs.rows.length).toBeGreaterThanOrEqual(10);
    expect(runs.rows.filter((r) => Number(r.n) !== 1)).toEqual([]);
    // The work really was shared: more than one runner won ticks.
    expect(claims.rows.length).toBeGreaterThan(1);
  }, 60_000);
});
