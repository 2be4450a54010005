// The store's writer thread: its own connection to the same file runs the batches of
// Store.commit, so that SQLite's work (statements, JSON, WAL writes) leaves the main thread, where
// the engine's HTTP and response handling runs. The store's queue sends one batch at a time and
// waits for its COMMIT, so reads and transactions on the main connection still see every write
// that resolved, and the two connections never contend for the write lock.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { ObjectDef } from '../../workflow/objects.js';
import type { WriteOp } from '../types.js';
import { applyOps, controlStatements, runBatch, toWire } from './batch.js';
import { SqliteRecords } from './records.js';
import { SqliteRuns } from './runs.js';

export interface WriterData {
  path: string;
  objects: Array<[string, ObjectDef]>;
  busyTimeoutMs: number;
}

export type WriterRequest = { type: 'batch'; id: number; batch: WriteOp[][] } | { type: 'close' };
export type WriterReply =
  | { type: 'batch'; id: number; results: Array<{ ok: true; value: unknown } | { ok: false; error: ReturnType<typeof toWire> }> }
  | { type: 'batch'; id: number; fatal: ReturnType<typeof toWire> }
  | { type: 'closed' };

const data = workerData as WriterData;
const now = () => new Date().toISOString();
const db = new Database(data.path);
db.pragma(`busy_timeout = ${data.busyTimeoutMs}`);
db.pragma('foreign_keys = ON');
db.pragma('synchronous = NORMAL');
db.pragma('cache_size = -65536');
const records = new SqliteRecords(db, new Map(data.objects), now);
const runs = new SqliteRuns(db, now);
const control = controlStatements(db);
const port = parentPort!;

port.on('message', (m: WriterRequest) => {
  if (m.type === 'close') {
    db.close();
    port.postMessage({ type: 'closed' } satisfies WriterReply);
    return;
  }
  let reply: WriterReply;
  try {
    const results = runBatch(db, control, m.batch.map((ops) => () => applyOps(records, runs, ops)));
    reply = { type: 'batch', id: m.id, results: results.map((r) => (r.ok ? { ok: true, value: r.value } : { ok: false, error: toWire(r.value) })) };
  } catch (err) {
    reply = { type: 'batch', id: m.id, fatal: toWire(err) };
  }
  port.postMessage(reply);
});
