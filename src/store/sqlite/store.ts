// The SQLite Store: opens the file (WAL, busy timeout, foreign keys), migrates it, and exposes
// the synchronous better-sqlite3 operations behind the async Store interface. Calls are run one
// at a time through a queue so that an open transaction (which may await between operations)
// never sees another caller's writes on the same connection.
import { AsyncLocalStorage } from 'node:async_hooks';
import { makeDirs } from '../../fs-util.js';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { SkeinError } from '../../errors.js';
import type { ObjectDef } from '../../workflow/objects.js';
import type { ClaimEventsOptions, CommitOptions, RunnerInfo, Store, StoreTx, WriteOp } from '../types.js';
import { migrate, refuseForeignDatabase } from './migrations.js';
import { storeError } from './errors.js';
import { SqliteRecords } from './records.js';
import { SqliteRuns } from './runs.js';
import { SqliteCluster } from './cluster.js';
import { isoNow } from '../../clock.js';

/** How long a writer waits for another process's lock before failing with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

export interface SqliteStoreOptions {
  /** Clock for timestamps; default `isoNow` (the wall clock as ISO 8601 text). */
  now?: () => string;
  /** Wait for another process's write lock; default BUSY_TIMEOUT_MS. */
  busyTimeoutMs?: number;
}

const txContext = new AsyncLocalStorage<object>();
/**
 * How long a lazy write may wait for others to share its commit. Each commit costs a transaction
 * start (locks, WAL index) and rewrites every page it touched into the WAL, so a run whose records
 * end a few milliseconds apart pays far less per record when ~100 of them share one commit
 * (run benchmark: ~400 commits at 5 ms, ~60 at 50 ms). Nothing acts on a lazy write, so only the
 * time until it is durable grows.
 */
const LAZY_COMMIT_MS = 50;
/** A batch this large is committed at once, lazy or not. */
const LAZY_MAX_WRITES = 2048;
/**
 * WAL pages after which a commit also checkpoints (SQLite's default is 1000, 4 MiB). A run writes
 * a few KiB of history per record, so the default checkpoints every few hundred records, each time
 * copying and syncing pages that the next commits rewrite. At 4,000 pages (16 MiB) a 10,000-record
 * run checkpoints about twice while it runs, overlapping the waits on the vendor, and leaves less
 * for the last connection's checkpoint at close (run benchmark, paired runs: 1,000 pages slowest,
 * 2,000-4,000 a little ahead of 16,000). A daemon's WAL file stays at about that size.
 */
const WAL_AUTOCHECKPOINT_PAGES = 4_000;


class SqliteStore implements Store {
  readonly location: string;
  private readonly records: SqliteRecords;
  private readonly runs: SqliteRuns;
  private readonly cluster: SqliteCluster;
  private readonly kv;
  private queue: Promise<unknown> = Promise.resolve();
  private activeTx: object | null = null;
  private readonly tx: StoreTx;

  constructor(
    private readonly db: Database.Database,
    location: string,
    readonly objects: ReadonlyMap<string, ObjectDef>,
    private readonly now: () => string,
    private readonly busyTimeoutMs: number,
  ) {
    this.location = location;
    this.records = new SqliteRecords(db, objects, now);
    this.runs = new SqliteRuns(db, now);
    this.cluster = new SqliteCluster(db, now);
    this.kv = {
      get: db.prepare<[string], { value: string }>('SELECT value FROM kv WHERE key = ?'),
      set: db.prepare<[string, string, string]>(
        'INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
      ),
    };
    // Inside a transaction the operations run directly: the transaction already holds the queue.
    const inTx = <A extends unknown[], R>(op: (...args: A) => R) => async (...args: A): Promise<R> => {
      if (this.activeTx === null || txContext.getStore() !== this.activeTx) {
        throw new SkeinError('store-tx-closed', 'transaction handle used outside its transaction');
      }
      return op(...args);
    };
    this.tx = {
      getRecord: inTx((o: string, k: string) => this.records.get(o, k)),
      setFields: inTx((o, k, p, opts) => this.records.setFields(o, k, p, opts)),
      deleteRecord: inTx((o, k, opts) => this.records.delete(o, k, opts)),
      upsertMany: inTx((o, rows, opts) => this.records.upsertMany(o, rows, opts)),
      markEventHandled: inTx((id, wf) => this.records.markEventHandled(id, wf)),
      recordStep: inTx((r, k, s) => this.runs.recordStep(r, k, s)),
      getKv: inTx((k: string) => this.kv.get.get(k)?.value ?? null),
      setKv: inTx((k: string, v: string) => void this.kv.set.run(k, v, this.now())),
    };
  }

  /** Queues `fn` behind earlier calls; refuses calls made from inside this store's transaction. */
  private serial<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.activeTx !== null && txContext.getStore() === this.activeTx) {
      return Promise.reject(
        new SkeinError('store-tx-misuse', 'store method called inside store.transaction(); use the tx argument instead'),
      );
    }
    const run = this.queue
      .then(() => {
        if (!this.db.open) throw new SkeinError('store-closed', `store ${this.location} is closed`);
        return fn();
      })
      .catch((err: unknown) => {
        throw storeError(err, this.location, this.busyTimeoutMs);
      });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private control?: Record<'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo', Database.Statement>;
  private batch: Array<{ fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];

  /**
   * A single synchronous write. Writes issued while others wait are committed together (group
   * commit): one IMMEDIATE transaction, a savepoint per write so one failure undoes only itself.
   * Each promise resolves only after the COMMIT, so "committed before acting" still holds.
   */
  private write<T>(fn: () => T, lazy = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.batch.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      // Flush after the current event-loop turn, so writes from the many responses handled in
      // one turn share a commit. A lazy write (nobody waits on it to act) may wait a few
      // milliseconds for company: each commit rewrites every page it touches into the WAL, so
      // fewer, larger commits cost much less per write.
      if (!lazy || this.batch.length >= LAZY_MAX_WRITES) this.scheduleFlush('now');
      else this.scheduleFlush('soon');
    });
  }

  private flushTimer: NodeJS.Timeout | undefined;
  private flushQueued = false;

  private scheduleFlush(when: 'now' | 'soon'): void {
    if (this.flushQueued) return;
    if (when === 'soon') {
      this.flushTimer ??= setTimeout(() => this.scheduleFlush('now'), LAZY_COMMIT_MS);
      return;
    }
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      this.serial(() => this.flushBatch()).catch((err: unknown) => {
        // The batch never ran (e.g. the store was closed): fail every write in it.
        const ops = this.batch;
        this.batch = [];
        for (const op of ops) op.reject(err);
      });
    });
  }

  private flushBatch(): void {
    const ops = this.batch;
    // A flush scheduled after an earlier one took the whole batch: nothing to commit.
    if (ops.length === 0) return;
    this.batch = [];
    const c = (this.control ??= {
      begin: this.db.prepare('BEGIN IMMEDIATE'),
      commit: this.db.prepare('COMMIT'),
      rollback: this.db.prepare('ROLLBACK'),
      savepoint: this.db.prepare('SAVEPOINT w'),
      release: this.db.prepare('RELEASE w'),
      rollbackTo: this.db.prepare('ROLLBACK TO w'),
    });
    let results: Array<{ ok: boolean; value: unknown }>;
    try {
      // Optimistic pass: no savepoints, since writes rarely fail. If one does, undo the batch and
      // replay it with a savepoint around each write so only the failing write is lost.
      c.begin.run();
      try {
        results = ops.map((op) => ({ ok: true, value: op.fn() }));
      } catch {
        c.rollback.run();
        c.begin.run();
        results = ops.map((op) => {
          c.savepoint.run();
          try {
            const value = op.fn();
            c.release.run();
            return { ok: true, value };
          } catch (err) {
            c.rollbackTo.run();
            c.release.run();
            return { ok: false, value: storeError(err, this.location, this.busyTimeoutMs) };
          }
        });
      }
      c.commit.run();
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      const e = storeError(err, this.location, this.busyTimeoutMs);
      for (const op of ops) op.reject(e);
      return;
    }
    ops.forEach((op, i) => (results[i]!.ok ? op.resolve(results[i]!.value) : op.reject(results[i]!.value)));
  }

  getRecord(object: string, key: string) {
    return this.serial(() => this.records.get(object, key));
  }
  getRecords(object: string, keys: string[]) {
    return this.serial(() => this.records.getMany(object, keys));
  }
  listRecords(object: string, opts?: Parameters<SqliteRecords['list']>[1]) {
    return this.serial(() => this.records.list(object, opts));
  }
  countRecords(object: string) {
    return this.serial(() => this.records.count(object));
  }
  setFields(...args: Parameters<SqliteRecords['setFields']>) {
    return this.write(() => this.records.setFields(...args));
  }
  deleteRecord(...args: Parameters<SqliteRecords['delete']>) {
    return this.write(() => this.records.delete(...args));
  }
  upsertMany(...args: Parameters<SqliteRecords['upsertMany']>) {
    return this.write(() => this.records.upsertMany(...args));
  }
  readEvents(...args: Parameters<SqliteRecords['readEvents']>) {
    return this.serial(() => this.records.readEvents(...args));
  }
  pendingEventsFor(...args: Parameters<SqliteRecords['pendingEventsFor']>) {
    return this.serial(() => this.records.pendingEventsFor(...args));
  }
  lastEventId() {
    return this.serial(() => this.records.lastEventId());
  }
  markEventHandled(eventId: number, workflow: string) {
    return this.write(() => this.records.markEventHandled(eventId, workflow));
  }

  createRun(...args: Parameters<SqliteRuns['createRun']>) {
    return this.write(() => this.runs.createRun(...args));
  }
  startRunRecord(...args: Parameters<SqliteRuns['startRunRecord']>) {
    return this.write(() => this.runs.startRunRecord(...args));
  }
  finishRunRecord(...args: Parameters<SqliteRuns['finishRunRecord']>) {
    return this.write(() => this.runs.finishRunRecord(...args));
  }
  recordStep(...args: Parameters<SqliteRuns['recordStep']>) {
    return this.write(() => this.runs.recordStep(...args));
  }
  finishRun(...args: Parameters<SqliteRuns['finishRun']>) {
    return this.write(() => this.runs.finishRun(...args));
  }
  listRuns(...args: Parameters<SqliteRuns['listRuns']>) {
    return this.serial(() => this.runs.listRuns(...args));
  }
  stepsInDoubt(workflow: string, recordKey: string, stepId: string) {
    return this.serial(() => this.runs.stepsInDoubt(workflow, recordKey, stepId));
  }
  getRun(runId: string) {
    return this.serial(() => this.runs.getRun(runId));
  }

  getKv(key: string) {
    return this.serial(() => this.kv.get.get(key)?.value ?? null);
  }
  setKv(key: string, value: string) {
    return this.write(() => void this.kv.set.run(key, value, this.now()));
  }

  claimTick(workflow: string, tick: string, runner: string): Promise<boolean> {
    return this.write(() => this.claimStmt().run(workflow, tick, runner, this.now()).changes === 1);
  }

  private claim?: Database.Statement<[string, string, string, string]>;
  private claimStmt() {
    return (this.claim ??= this.db.prepare('INSERT OR IGNORE INTO schedule_claims (workflow, tick, runner, claimed_at) VALUES (?, ?, ?, ?)'));
  }

  registerRunner(r: RunnerInfo) {
    return this.write(() => this.cluster.register(r));
  }
  heartbeat(runner: string, ttlMs: number) {
    return this.write(() => this.cluster.heartbeat(runner, ttlMs));
  }
  removeRunner(runner: string) {
    return this.write(() => this.cluster.remove(runner));
  }
  listRunners(ttlMs: number) {
    return this.serial(() => this.cluster.list(ttlMs));
  }
  claimEvents(workflow: string, runner: string, opts: ClaimEventsOptions) {
    return this.write(() => this.cluster.claimEvents(workflow, runner, opts));
  }
  adoptOrphanRuns(runner: string, ttlMs: number) {
    return this.write(() => this.cluster.adoptOrphanRuns(runner, ttlMs));
  }

  commit(ops: WriteOp[], opts?: CommitOptions): Promise<unknown[]> {
    return this.write(() => {
      // A record's start and end in one commit (its whole run, when its call is idempotent) are
      // written as one row with the final status, not inserted as running and then updated.
      let ended: Map<string, Extract<WriteOp, { op: 'finishRunRecord' }>> | undefined;
      for (const o of ops) if (o.op === 'finishRunRecord') (ended ??= new Map()).set(`${o.runId}\n${o.key}`, o);
      const folded = new Set<WriteOp>();
      return ops.map((o) => {
        switch (o.op) {
          case 'setFields':
            return this.records.setFields(o.object, o.key, o.patch, o.opts);
          case 'recordStep':
            return this.runs.recordStep(o.runId, o.recordKey, o.step);
          case 'startRunRecord': {
            const end = ended?.get(`${o.runId}\n${o.key}`);
            if (!end) return this.runs.startRunRecord(o.runId, o.object, o.key, o.startedAt);
            folded.add(end);
            return this.runs.writeRunRecord(o.runId, o.object, o.key, o.startedAt, end.status, end.error);
          }
          case 'finishRunRecord':
            return folded.has(o) ? undefined : this.runs.finishRunRecord(o.runId, o.key, o.status, o.error);
          case 'markEventHandled':
            return this.records.markEventHandled(o.eventId, o.workflow);
        }
      });
    }, opts?.lazy);
  }

  flush(): Promise<void> {
    if (!this.batch.length) return Promise.resolve();
    return this.write(() => undefined);
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      const token = {};
      this.db.exec('BEGIN IMMEDIATE');
      this.activeTx = token;
      try {
        const result = await txContext.run(token, () => fn(this.tx));
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      } finally {
        this.activeTx = null;
      }
    });
  }

  close(): Promise<void> {
    // Writes still waiting for company are committed first.
    if (this.batch.length && !this.flushQueued) this.scheduleFlush('now');
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.serial(() => void this.db.close()));
  }
}

/**
 * Opens (creating it and its parent directories if needed) and migrates a SQLite store.
 * Throws `store-too-new` for a file written by a newer skein and `store-open-failed` when the
 * file cannot be opened as a database.
 */
export async function openSqliteStore(path: string, objects: Map<string, ObjectDef>, opts: SqliteStoreOptions = {}): Promise<Store> {
  const now = opts.now ?? isoNow;
  const busyTimeoutMs = opts.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
  let db: Database.Database | undefined;
  try {
    if (path !== ':memory:') makeDirs(dirname(path));
    db = new Database(path);
    // Before anything writes to it (WAL mode changes the file's header).
    refuseForeignDatabase(db, path);
    db.pragma('journal_mode = WAL');
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    db.pragma('foreign_keys = ON');
    // Durable at each checkpoint and safe against corruption in WAL mode; much faster than FULL.
    db.pragma('synchronous = NORMAL');
    // 64 MiB page cache (default 2 MiB): bulk imports touch many B-tree pages.
    db.pragma('cache_size = -65536');
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    migrate(db, path, now);
    return new SqliteStore(db, path, objects, now, busyTimeoutMs);
  } catch (err) {
    db?.close();
    if (err instanceof SkeinError) throw err;
    throw new SkeinError('store-open-failed', `cannot open state database ${path}: ${(err as Error).message}`, { cause: err });
  }
}
