// The PostgreSQL Store: a pg.Pool, migrated on open. Reads go straight to the pool; every write
// runs in its own transaction on a checked-out client (commit() puts a whole batch in one), and
// transaction() keeps one client checked out for its duration. Record writes, commit() batches
// and transaction() take a store-wide advisory lock (see records.ts), so several runners on one
// database behave like SQLite's single writer (and, as there, transaction() holds that lock until
// it ends). Single-row writes (handled marks, run history, kv) do not need it, nor does a commit
// batch made of them only. Concurrent commit() batches are grouped into one transaction.
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { SkeinError } from '../../errors.js';
import type { ObjectDef } from '../../workflow/objects.js';
import type { ClaimEventsOptions, RunnerInfo, SlotLocks, Store, StoreTx, WriteOp } from '../types.js';
import { migrate } from './migrations.js';
import { PgRecords, type Queryable, type WriteCtx } from './records.js';
import { PgRuns } from './runs.js';
import { PgCluster } from './cluster.js';
import { openPgSlotLocks } from './slot-locks.js';
import { isoNow } from '../../clock.js';
import { redactUrl } from '../../url-redact.js';

/** Key of the transaction-level advisory lock that serializes record writes ("skein-wr"). */
export const WRITE_LOCK_KEY = 0x736b65696e77;
/** Most commit() batches one group commit carries. */
const MAX_GROUP = 64;
/** How long a writer waits for another runner's lock before failing with `store-busy`. */
export const LOCK_TIMEOUT_MS = 5000;

export interface PgStoreOptions {
  /** Clock for timestamps; default `isoNow` (the wall clock as ISO 8601 text). */
  now?: () => string;
  /** Most connections the pool opens; default 10. */
  poolSize?: number;
  /** Wait for another runner's lock; default LOCK_TIMEOUT_MS. */
  lockTimeoutMs?: number;
  /** Give up connecting after this long; default 10 s. */
  connectTimeoutMs?: number;
}

/** Removes the URL's password (raw or percent-decoded) from any text, e.g. a driver message. */
function scrubber(url: string): (s: string) => string {
  const secrets = new Set<string>();
  const found = [/\/\/[^:@/\s]*:([^/\s]*)@/.exec(url)?.[1], ...[...url.matchAll(/[?&](?:ssl)?password=([^&#\s]*)/gi)].map((m) => m[1])];
  for (const p of found) {
    if (!p) continue;
    secrets.add(p);
    try {
      secrets.add(decodeURIComponent(p));
    } catch {
      // not percent-encoded: the raw form is enough
    }
  }
  return (s) => {
    let out = redactUrl(s);
    for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('***');
    return out;
  };
}

const UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', '57P01', '57P02', '57P03']);

/** Maps driver errors to stable codes; everything else passes through unchanged. */
function storeError(err: unknown, location: string, scrub: (s: string) => string): unknown {
  if (err instanceof SkeinError) return err;
  const code = (err as { code?: unknown })?.code;
  const message = scrub(err instanceof Error ? err.message : String(err));
  if (code === '40001' || code === '40P01' || code === '55P03') {
    return new SkeinError('store-busy', `state database ${location} is busy (lock or serialization conflict): ${message}`, { cause: err, retryable: true });
  }
  if (typeof code === 'string' && (UNAVAILABLE.has(code) || code.startsWith('08'))) {
    return new SkeinError('store-unavailable', `state database ${location} is unreachable: ${message}`, { cause: err, retryable: true });
  }
  if (err instanceof Error && /timeout exceeded when trying to connect|Connection terminated|not queryable/i.test(err.message)) {
    return new SkeinError('store-unavailable', `state database ${location} is unreachable: ${message}`, { cause: err, retryable: true });
  }
  // insufficient_privilege, read_only_sql_transaction: the role or the session may not write.
  if (code === '42501' || code === '25006') {
    return new SkeinError('store-read-only', `state database ${location} cannot be written by this role: ${message}; grant it write access or use another --state`, { cause: err });
  }
  // query_canceled (a statement_timeout): worth retrying when the database is less busy.
  if (code === '57014') return new SkeinError('store-busy', `state database ${location} cancelled a statement (timeout): ${message}`, { cause: err, retryable: true });
  return err;
}

interface TxScope {
  store: PgStore;
}

const txContext = new AsyncLocalStorage<TxScope>();

class PgStore implements Store {
  private readonly records: PgRecords;
  private readonly runs: PgRuns;
  private readonly cluster: PgCluster;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    readonly location: string,
    readonly objects: ReadonlyMap<string, ObjectDef>,
    private readonly now: () => string,
    private readonly scrub: (s: string) => string,
    private readonly url: string,
  ) {
    this.records = new PgRecords(objects, now);
    this.runs = new PgRuns(now);
    this.cluster = new PgCluster(now);
  }

  private guard(): void {
    if (txContext.getStore()?.store === this) {
      throw new SkeinError('store-tx-misuse', 'store method called inside store.transaction(); use the tx argument instead');
    }
    if (this.closed) throw new SkeinError('store-closed', `store ${this.location} is closed`);
  }

  private wrap(err: unknown): unknown {
    return storeError(err, this.location, this.scrub);
  }

  private async read<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    this.guard();
    try {
      return await fn(this.pool);
    } catch (err) {
      throw this.wrap(err);
    }
  }

  /**
   * Runs `fn` in one transaction on a client of its own: all of it commits, or none. With
   * `lockFirst` the write lock is taken before anything else: a transaction that may write
   * several rows and records must not hold row locks while it waits for the write lock, or two
   * runners could deadlock (one holds the lock and wants a row the other holds).
   */
  private async inTx<T>(fn: (w: WriteCtx) => Promise<T>, lockFirst = false): Promise<T> {
    this.guard();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.wrap(err);
    }
    let broken = false;
    // A checked-out client whose connection drops emits 'error'; unheard, it would end the
    // process. The failing query rejects anyway, and the client is discarded below.
    const onError = (): void => {
      broken = true;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      let locked = false;
      const w: WriteCtx = {
        c: client,
        lockWrites: async () => {
          if (locked) return;
          await client.query('SELECT pg_advisory_xact_lock($1)', [WRITE_LOCK_KEY]);
          locked = true;
        },
      };
      if (lockFirst) await w.lockWrites();
      const result = await fn(w);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw this.wrap(err);
    } finally {
      client.off('error', onError);
      // A client whose connection failed is discarded instead of going back to the pool.
      client.release(broken || undefined);
    }
  }

  getRecord(object: string, key: string) {
    return this.read((q) => this.records.get(q, object, key));
  }
  getRecords(object: string, keys: string[]) {
    return this.read((q) => this.records.getMany(q, object, keys));
  }
  listRecords(...args: Parameters<Store['listRecords']>) {
    return this.read((q) => this.records.list(q, ...args));
  }
  countRecords(object: string) {
    return this.read((q) => this.records.count(q, object));
  }
  setFields(...args: Parameters<Store['setFields']>) {
    return this.inTx((w) => this.records.setFields(w, ...args));
  }
  deleteRecord(...args: Parameters<Store['deleteRecord']>) {
    return this.inTx((w) => this.records.delete(w, ...args));
  }
  upsertMany(...args: Parameters<Store['upsertMany']>) {
    return this.inTx((w) => this.records.upsertMany(w, ...args));
  }
  readEvents(...args: Parameters<Store['readEvents']>) {
    return this.read((q) => this.records.readEvents(q, ...args));
  }
  pendingEventsFor(...args: Parameters<Store['pendingEventsFor']>) {
    return this.read((q) => this.records.pendingEventsFor(q, ...args));
  }
  lastEventId() {
    return this.read((q) => this.records.lastEventId(q));
  }
  markEventHandled(eventId: number, workflow: string) {
    return this.inTx((w) => this.records.markEventHandled(w, eventId, workflow));
  }

  createRun(...args: Parameters<Store['createRun']>) {
    return this.inTx((w) => this.runs.createRun(w.c, ...args));
  }
  startRunRecord(...args: Parameters<Store['startRunRecord']>) {
    return this.inTx((w) => this.runs.startRunRecord(w.c, ...args));
  }
  finishRunRecord(...args: Parameters<Store['finishRunRecord']>) {
    return this.inTx((w) => this.runs.finishRunRecord(w.c, ...args));
  }
  recordStep(...args: Parameters<Store['recordStep']>) {
    return this.inTx((w) => this.runs.recordStep(w.c, ...args));
  }
  finishRun(...args: Parameters<Store['finishRun']>) {
    return this.inTx((w) => this.runs.finishRun(w.c, ...args));
  }
  listRuns(...args: Parameters<Store['listRuns']>) {
    return this.read((q) => this.runs.listRuns(q, ...args));
  }
  stepsInDoubt(workflow: string, recordKey: string, stepId: string) {
    return this.read((q) => this.runs.stepsInDoubt(q, workflow, recordKey, stepId));
  }
  getRun(runId: string) {
    return this.read((q) => this.runs.getRun(q, runId));
  }

  private async kvGet(q: Queryable, key: string): Promise<string | null> {
    const r = await q.query<{ value: string }>('SELECT value FROM kv WHERE key = $1', [key]);
    return r.rows[0]?.value ?? null;
  }
  private async kvSet(q: Queryable, key: string, value: string): Promise<void> {
    await q.query(
      'INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
      [key, value, this.now()],
    );
  }
  getKv(key: string) {
    return this.read((q) => this.kvGet(q, key));
  }
  async claimTick(workflow: string, tick: string, runner: string): Promise<boolean> {
    return this.read(async (q) => {
      const r = await q.query('INSERT INTO schedule_claims (workflow, tick, runner, claimed_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [workflow, tick, runner, this.now()]);
      return r.rowCount === 1;
    });
  }
  setKv(key: string, value: string) {
    return this.inTx((w) => this.kvSet(w.c, key, value));
  }

  private applyOp(w: WriteCtx, o: WriteOp): Promise<unknown> {
    switch (o.op) {
      case 'setFields':
        return this.records.setFields(w, o.object, o.key, o.patch, o.opts);
      case 'recordStep':
        return this.runs.recordStep(w.c, o.runId, o.recordKey, o.step);
      case 'startRunRecord':
        return this.runs.startRunRecord(w.c, o.runId, o.object, o.key, o.startedAt);
      case 'finishRunRecord':
        return this.runs.finishRunRecord(w.c, o.runId, o.key, o.status, o.error);
      case 'markEventHandled':
        return this.records.markEventHandled(w, o.eventId, o.workflow);
    }
  }

  registerRunner(r: RunnerInfo) {
    return this.read((q) => this.cluster.register(q, r));
  }
  heartbeat(runner: string, ttlMs: number) {
    return this.inTx((w) => this.cluster.heartbeat(w.c, runner, ttlMs));
  }
  removeRunner(runner: string) {
    return this.inTx((w) => this.cluster.remove(w.c, runner));
  }
  listRunners(ttlMs: number) {
    return this.read((q) => this.cluster.list(q, ttlMs));
  }
  claimEvents(workflow: string, runner: string, opts: ClaimEventsOptions) {
    return this.inTx((w) => this.cluster.claimEvents(w.c, workflow, runner, opts));
  }
  adoptOrphanRuns(runner: string, ttlMs: number) {
    return this.inTx((w) => this.cluster.adoptOrphanRuns(w.c, runner, ttlMs));
  }

  async openSlotLocks(): Promise<SlotLocks> {
    this.guard();
    const locks = await openPgSlotLocks(this.url).catch((err: unknown) => {
      throw this.wrap(err);
    });
    const wrap = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => (...a: A) => f(...a).catch((err: unknown) => {
      throw this.wrap(err);
    });
    return { take: wrap(locks.take), give: wrap(locks.give), pause: wrap(locks.pause), close: locks.close };
  }

  /** Commits are never held back here: a group waits only for the commit in flight. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Group commit, as on SQLite: batches that arrive while a commit is in flight wait and then go
   * out together in one transaction, so a runner pays one COMMIT (and one hold of the write lock)
   * for many records instead of one each. When anything in a group fails, the group is rolled
   * back and each batch is committed on its own, so one bad batch fails alone.
   */
  commit(ops: WriteOp[]): Promise<unknown[]> {
    if (ops.length === 0) return this.read(async () => []);
    this.guard();
    return new Promise((resolve, reject) => {
      this.queued.push({ ops, resolve, reject });
      if (!this.flushing) void this.drain();
    });
  }

  private queued: Array<{ ops: WriteOp[]; resolve: (v: unknown[]) => void; reject: (e: unknown) => void }> = [];
  private flushing = false;

  private async drain(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queued.length) {
        const group = this.queued.splice(0, MAX_GROUP);
        if (group.length === 1) {
          await this.commitBatches([group[0]!.ops]).then(([r]) => group[0]!.resolve(r!), group[0]!.reject);
          continue;
        }
        try {
          const results = await this.commitBatches(group.map((g) => g.ops));
          group.forEach((g, i) => g.resolve(results[i]!));
        } catch {
          for (const g of group) await this.commitBatches([g.ops]).then(([r]) => g.resolve(r!), g.reject);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * One transaction for all `batches`. The record writes go last: they take the store-wide write
   * lock (held until COMMIT), and the run-history rows and handled marks before them need no
   * lock, so they are written before it is taken instead of while other runners queue for it.
   * Those rows belong to this runner's runs and leased events, so waiting for the lock while
   * holding them cannot deadlock another writer. Results come back per batch, in op order.
   */
  private commitBatches(batches: WriteOp[][]): Promise<unknown[][]> {
    const steps = batches.flatMap((ops, b) => ops.map((o, i) => ({ o, b, i })));
    steps.sort((x, y) => Number(x.o.op === 'setFields') - Number(y.o.op === 'setFields'));
    return this.inTx(async (w) => {
      const results = batches.map((ops) => new Array<unknown>(ops.length));
      for (const { o, b, i } of steps) results[b]![i] = await this.applyOp(w, o);
      return results;
    });
  }

  async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.inTx(async (w) => {
      const scope: TxScope = { store: this };
      let open = true;
      let chain: Promise<unknown> = Promise.resolve();
      // Each operation runs alone (one client, one statement stream) inside a savepoint, so a
      // failing operation undoes only itself and the transaction stays usable, as on SQLite.
      const op = <A extends unknown[], R>(f: (...args: A) => Promise<R>) => (...args: A): Promise<R> => {
        if (!open || txContext.getStore() !== scope) {
          return Promise.reject(new SkeinError('store-tx-closed', 'transaction handle used outside its transaction'));
        }
        const run = chain.then(async () => {
          await w.c.query('SAVEPOINT tx_op');
          try {
            const value = await f(...args);
            await w.c.query('RELEASE SAVEPOINT tx_op');
            return value;
          } catch (err) {
            await w.c.query('ROLLBACK TO SAVEPOINT tx_op');
            await w.c.query('RELEASE SAVEPOINT tx_op');
            throw this.wrap(err);
          }
        });
        chain = run.catch(() => undefined);
        return run;
      };
      const tx: StoreTx = {
        getRecord: op((o: string, k: string) => this.records.get(w.c, o, k)),
        setFields: op((o, k, p, opts) => this.records.setFields(w, o, k, p, opts)),
        deleteRecord: op((o, k, opts) => this.records.delete(w, o, k, opts)),
        upsertMany: op((o, rows, opts) => this.records.upsertMany(w, o, rows, opts)),
        markEventHandled: op((id, wf) => this.records.markEventHandled(w, id, wf)),
        recordStep: op((r, k, s) => this.runs.recordStep(w.c, r, k, s)),
        getKv: op((k: string) => this.kvGet(w.c, k)),
        setKv: op((k: string, v: string) => this.kvSet(w.c, k, v)),
      };
      try {
        return await txContext.run(scope, () => fn(tx));
      } finally {
        // Let operations still in flight finish before COMMIT or ROLLBACK.
        await chain;
        open = false;
      }
    }, true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/**
 * Connects to the database at `url` and migrates it. Throws `store-too-new` for a database
 * written by a newer skein and `store-open-failed` (retryable when the server did not answer)
 * otherwise. Messages carry the URL with its password replaced by `***`.
 */
export async function openPgStore(url: string, objects: Map<string, ObjectDef>, opts: PgStoreOptions = {}): Promise<Store> {
  const now = opts.now ?? isoNow;
  const location = redactUrl(url);
  const scrub = scrubber(url);
  let pool: pg.Pool | undefined;
  try {
    pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      lock_timeout: opts.lockTimeoutMs ?? LOCK_TIMEOUT_MS,
      application_name: 'skein',
    });
    // An idle connection dropped by the server: the pool discards it and the next call reconnects.
    pool.on('error', () => undefined);
    await migrate(pool, location, now);
    return new PgStore(pool, location, objects, now, scrub, url);
  } catch (err) {
    await pool?.end().catch(() => undefined);
    if (err instanceof SkeinError) throw err;
    const mapped = storeError(err, location, scrub);
    if (mapped instanceof SkeinError && mapped.code === 'store-read-only') throw mapped;
    throw new SkeinError('store-open-failed', `cannot open state database ${location}: ${scrub(err instanceof Error ? err.message : String(err))}`, {
      cause: err,
      retryable: mapped instanceof SkeinError && mapped.retryable,
    });
  }
}
