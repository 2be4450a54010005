// Record store benchmark: 100,000 users upserted in one transaction, upserted again unchanged,
// then listed (all, and with a field filter), through the SQLite store; next to bare
// better-sqlite3 doing the plain part of the same work (one JSON row per record, inserted in one
// transaction, read back in key order). Targets: upsert <= 4 s, list <= 0.5 s.
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openStore } from '../dist/store/index.js';
import { buildObjectDefs } from '../dist/workflow/objects.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'bench', '.out', 'store');
const N = 100_000;

function rows() {
  return Array.from({ length: N }, (_, i) => ({
    // scattered key order, as in real HR exports
    username: `user${String((i * 7919) % N).padStart(6, '0')}`,
    email: `user${i}@example.com`,
    first_name: 'Pat',
    last_name: `Lee${i}`,
    city: 'Berlin',
    country: 'Germany',
    status: i % 3 ? 'Active' : 'Inactive',
    start_date: '2024-01-02',
  }));
}

async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return [value, performance.now() - t0];
}

function fresh(name) {
  const path = join(out, name);
  for (const f of ['', '-wal', '-shm']) rmSync(path + f, { force: true });
  return path;
}

async function ours() {
  const store = await openStore(fresh('skein.db'), buildObjectDefs({ users: { fields: { start_date: { type: 'date' } } } }));
  const data = rows();
  const [created, upsertMs] = await timed(() => store.upsertMany('users', data));
  const [unchanged, noopMs] = await timed(() => store.upsertMany('users', data));
  const [all, listMs] = await timed(() => store.listRecords('users'));
  const [inactive, whereMs] = await timed(() => store.listRecords('users', { where: { status: 'Inactive' } }));
  await store.close();
  const ok = created.every((o) => o.outcome === 'created') && unchanged.every((o) => o.outcome === 'unchanged') && all.length === N && inactive.length === Math.ceil(N / 3);
  return { upsertMs, noopMs, listMs, whereMs, ok };
}

function bare() {
  const db = new Database(fresh('bare.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE records (key TEXT PRIMARY KEY, fields TEXT NOT NULL) WITHOUT ROWID');
  const insert = db.prepare('INSERT INTO records (key, fields) VALUES (?, ?)');
  const data = rows();
  let t0 = performance.now();
  db.transaction(() => {
    for (const r of data) insert.run(r.username, JSON.stringify(r));
  })();
  const upsertMs = performance.now() - t0;
  t0 = performance.now();
  const all = db.prepare('SELECT key, fields FROM records ORDER BY key').all().map((r) => ({ key: r.key, fields: JSON.parse(r.fields) }));
  const listMs = performance.now() - t0;
  db.close();
  return { upsertMs, listMs, ok: all.length === N };
}

export async function main() {
  mkdirSync(out, { recursive: true });
  const b = bare();
  const s = await ours();
  const ms = (x) => `${Math.round(x)} ms`;
  console.log(`store: ${N.toLocaleString('en')} users on SQLite, one transaction per upsert`);
  console.log(`  skein upsert (type checks, diff, outbox event per record): ${ms(s.upsertMs)} (target <= 4000 ms); bare insert of the JSON rows: ${ms(b.upsertMs)}, ratio ${(s.upsertMs / b.upsertMs).toFixed(1)}x`);
  console.log(`  skein upsert again, all unchanged (no writes, no events):  ${ms(s.noopMs)}`);
  console.log(`  skein list all, in key order: ${ms(s.listMs)} (target <= 500 ms); bare SELECT + JSON.parse: ${ms(b.listMs)}, ratio ${(s.listMs / b.listMs).toFixed(1)}x`);
  console.log(`  skein list where status=Inactive: ${ms(s.whereMs)}`);
  if (!s.ok || !b.ok) console.log('  MISMATCH: a phase did not return what it should');
}
