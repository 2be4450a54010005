// Claims benchmark: how fast runners can lease and finish outbox events on PostgreSQL, skein's
// way (leases on the outbox, store.claimEvents + markEventHandled) against the classic job-queue
// way that pg-boss and graphile-worker are built on (a job row per event, claimed with
// FOR UPDATE SKIP LOCKED, deleted when done), with 1 and 4 claimers, side by side in one run.
// No HTTP and no workflows, and the same one-statement handled marks on both sides: this isolates
// the coordination cost that scale-out adds (the engine writes each mark with its record's result).
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN = process.env.SKEIN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const N = Number(process.env.CLAIMS_N ?? 20_000);
const BATCH = Number(process.env.CLAIMS_BATCH ?? 256);

const { openStore } = await import(pathToFileURL(join(root, 'dist', 'store', 'index.js')).href);
const { buildObjectDefs } = await import(pathToFileURL(join(root, 'dist', 'workflow', 'objects.js')).href);

async function xacts(client, db) {
  const r = await client.query('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1', [db]);
  return Number(r.rows[0].n);
}

/** A fresh database holding N `created` events (written by one import). */
async function freshDb(admin) {
  const name = `skein_bench_claims_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(ADMIN);
  u.pathname = `/${name}`;
  const url = u.toString();
  const store = await openStore(url, buildObjectDefs({}));
  for (let i = 0; i < N; i += 5000) {
    await store.upsertMany('users', Array.from({ length: Math.min(5000, N - i) }, (_, j) => ({ username: `u${String(i + j).padStart(6, '0')}` })));
  }
  await store.close();
  return { name, url };
}

async function skeinWay(url, claimers) {
  const stores = await Promise.all(Array.from({ length: claimers }, () => openStore(url, buildObjectDefs({}))));
  await Promise.all(stores.map((s, i) => s.registerRunner({ id: `r${i}`, role: 'bench', host: 'bench', pid: i })));
  const marks = new pg.Pool({ connectionString: url, max: claimers });
  let done = 0;
  let claimMs = 0;
  const t0 = performance.now();
  await Promise.all(
    stores.map(async (s, i) => {
      for (;;) {
        const c0 = performance.now();
        const held = await s.claimEvents('wf', `r${i}`, { object: 'users', limit: BATCH, ttlMs: 30_000 });
        claimMs += performance.now() - c0;
        if (!held.length) return;
        // Done: the handled marks, one statement per batch, exactly as the queue way writes them.
        await marks.query("INSERT INTO event_handled (event_id, workflow, handled_at) SELECT unnest($1::bigint[]), 'wf', now()::text", [held.map((e) => e.id)]);
        done += held.length;
      }
    }),
  );
  const ms = performance.now() - t0;
  await Promise.all(stores.map((s) => s.close()));
  await marks.end();
  return { ms, done, claimMs };
}

async function skipLockedWay(url, claimers) {
  const setup = new pg.Client({ connectionString: url });
  await setup.connect();
  await setup.query(`CREATE TABLE jobs (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id BIGINT NOT NULL, workflow TEXT NOT NULL,
    locked_by TEXT, locked_until TIMESTAMPTZ)`);
  // The copy a queue library needs: one job per event and workflow.
  const e0 = performance.now();
  await setup.query("INSERT INTO jobs (event_id, workflow) SELECT id, 'wf' FROM events ORDER BY id");
  const enqueueMs = performance.now() - e0;
  await setup.end();
  const pools = Array.from({ length: claimers }, () => new pg.Pool({ connectionString: url, max: 2 }));
  let done = 0;
  let claimMs = 0;
  const t0 = performance.now();
  await Promise.all(
    pools.map(async (p, i) => {
      for (;;) {
        const c0 = performance.now();
        const c = await p.connect();
        let ids;
        try {
          await c.query('BEGIN');
          const r = await c.query(
            `UPDATE jobs SET locked_by = $1, locked_until = now() + interval '30 seconds'
             WHERE id IN (SELECT id FROM jobs WHERE locked_until IS NULL OR locked_until < now() ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING id, event_id`,
            [`r${i}`, BATCH],
          );
          await c.query('COMMIT');
          ids = r.rows.map((x) => x.id);
        } finally {
          c.release();
        }
        claimMs += performance.now() - c0;
        if (!ids.length) return;
        // Done: the job goes, and the handled mark is written (as skein needs it for history).
        const d = await p.connect();
        try {
          await d.query('BEGIN');
          await d.query("INSERT INTO event_handled (event_id, workflow, handled_at) SELECT event_id, workflow, now()::text FROM jobs WHERE id = ANY($1)", [ids]);
          await d.query('DELETE FROM jobs WHERE id = ANY($1)', [ids]);
          await d.query('COMMIT');
        } finally {
          d.release();
        }
        done += ids.length;
      }
    }),
  );
  const ms = performance.now() - t0;
  await Promise.all(pools.map((p) => p.end()));
  return { ms, done, enqueueMs, claimMs };
}

export async function main() {
  const admin = new pg.Client({ connectionString: ADMIN, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (err) {
    console.error(`claims benchmark: PostgreSQL is not reachable at 127.0.0.1:5432 (${err.message}); start it as .ci/run does`);
    process.exitCode = 1;
    return;
  }
  console.log(`\nclaims: ${N} outbox events leased and marked handled in batches of ${BATCH} on PostgreSQL`);
  const rows = [];
  const dbs = [];
  try {
    for (const claimers of [1, 4]) {
      for (const [way, fn] of [
        ['skein leases (claimEvents)', skeinWay],
        ['job copy + SKIP LOCKED', skipLockedWay],
      ]) {
        const db = await freshDb(admin);
        dbs.push(db.name);
        const x0 = await xacts(admin, db.name);
        const r = await fn(db.url, claimers);
        const x1 = await xacts(admin, db.name);
        if (r.done !== N) throw new Error(`${way}: handled ${r.done} of ${N}`);
        rows.push({ way, claimers, perSec: (N / r.ms) * 1000, ms: r.ms, enqueueMs: r.enqueueMs, claimMs: r.claimMs, xactPerEvent: (x1 - x0) / N });
      }
    }
  } finally {
    for (const d of dbs) await admin.query(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
  const pad = (s, n) => String(s).padEnd(n);
  console.log(`${pad('way', 28)}${pad('claimers', 10)}${pad('events/s', 11)}${pad('time', 10)}${pad('in claims', 11)}${pad('enqueue', 10)}transactions/event`);
  for (const r of rows) {
    console.log(
      `${pad(r.way, 28)}${pad(r.claimers, 10)}${pad(r.perSec.toFixed(0), 11)}${pad(r.ms.toFixed(0) + ' ms', 10)}${pad(r.claimMs.toFixed(0) + ' ms', 11)}${pad(r.enqueueMs === undefined ? '-' : r.enqueueMs.toFixed(0) + ' ms', 10)}${r.xactPerEvent.toFixed(3)}`,
    );
  }
  for (const c of [1, 4]) {
    const [a, b] = rows.filter((r) => r.claimers === c);
    console.log(`ratio with ${c} claimer(s): skein leases ${(a.perSec / b.perSec).toFixed(2)}x the SKIP LOCKED queue (its enqueue copy not counted)`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
