// Records and their outbox on PostgreSQL. The caller (store.ts) owns the transaction: every
// method that writes takes a WriteCtx whose client is inside BEGIN ... COMMIT. Writes to records
// first take the store's write lock (a transaction-level advisory lock), which serializes record
// writers exactly as SQLite's single writer does: no lost updates between runners, and events
// become visible in id order, so a consumer's `afterId` cursor never skips a late commit.
import type pg from 'pg';
import { SkeinError } from '../../errors.js';
import type { ObjectDef } from '../../workflow/objects.js';
import type {
  EventKind,
  FieldPatch,
  Fields,
  ListOptions,
  ReadEventsOptions,
  RecordEvent,
  SetFieldsOptions,
  StoredRecord,
  UpsertOutcome,
  WriteOptions,
} from '../types.js';
import { type CheckedPatch, checkPatch, keyProblem, mergeFields, stringForm, unknownFieldMessage } from '../values.js';

/** Something to run a query on: the pool (reads) or a checked-out client (transactions). */
export type Queryable = pg.Pool | pg.PoolClient;

/** A client inside an open transaction, plus the store-wide record write lock. */
export interface WriteCtx {
  c: pg.PoolClient;
  /** Takes the record write lock for the rest of the transaction (once; later calls are free). */
  lockWrites(): Promise<void>;
}

interface RecordRow {
  key: string;
  fields: Fields;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface EventRow {
  id: string;
  object: string;
  key: string;
  kind: EventKind;
  before: Fields | null;
  after: Fields | null;
  changed: string[];
  source: string | null;
  at: string;
}

export function toEvent(r: EventRow): RecordEvent {
  return { id: Number(r.id), object: r.object, key: r.key, kind: r.kind, before: r.before, after: r.after, changed: r.changed, source: r.source, at: r.at };
}

/** Records per page when listing with a filter. */
const PAGE_SIZE = 5000;

export const EVENT_COLUMNS = 'id, object, key, kind, before, after, changed, source, at';

/**
 * PostgreSQL cannot store U+0000 in TEXT or JSONB (SQLite can): such values are refused like any
 * other invalid value instead of failing the whole transaction in the driver.
 */
function nulProblems(key: string, values: CheckedPatch): string[] {
  const out: string[] = [];
  if (key.includes('\u0000')) out.push('the key contains a NUL character (U+0000), which the PostgreSQL store cannot hold');
  for (const [field, v] of Object.entries(values)) {
    if (typeof v === 'string' && v.includes('\u0000')) out.push(`field "${field}" contains a NUL character (U+0000), which the PostgreSQL store cannot hold`);
  }
  return out;
}

export class PgRecords {
  constructor(
    private readonly objects: ReadonlyMap<string, ObjectDef>,
    private readonly now: () => string,
  ) {}

  def(object: string): ObjectDef {
    const def = this.objects.get(object);
    if (!def) {
      throw new SkeinError('unknown-object', `unknown object "${object}"; objects: ${[...this.objects.keys()].sort().join(', ')}`);
    }
    return def;
  }

  async get(q: Queryable, object: string, key: string): Promise<StoredRecord | null> {
    this.def(object);
    if (key.includes('\u0000')) return null;
    const r = await q.query<RecordRow>(
      'SELECT key, fields, version, created_at, updated_at FROM records WHERE object = $1 AND key = $2',
      [object, key],
    );
    const row = r.rows[0];
    return row ? { object, ...row } : null;
  }

  async getMany(q: Queryable, object: string, keys: string[]): Promise<Map<string, StoredRecord>> {
    this.def(object);
    const wanted = [...new Set(keys)].filter((k) => !k.includes('\u0000'));
    const r = await q.query<RecordRow>(
      'SELECT key, fields, version, created_at, updated_at FROM records WHERE object = $1 AND key = ANY($2::text[])',
      [object, wanted],
    );
    return new Map(r.rows.map((row) => [row.key, { object, ...row }]));
  }

  private async page(q: Queryable, object: string, afterKey: string, limit: number): Promise<StoredRecord[]> {
    const r = await q.query<RecordRow>(
      'SELECT key, fields, version, created_at, updated_at FROM records WHERE object = $1 AND key > $2 ORDER BY key LIMIT $3',
      [object, afterKey, limit],
    );
    return r.rows.map((row) => ({ object, ...row }));
  }

  async list(q: Queryable, object: string, opts: ListOptions = {}): Promise<StoredRecord[]> {
    const def = this.def(object);
    const where = Object.entries(opts.where ?? {});
    for (const [field] of where) {
      if (!def.fields[field]) throw new SkeinError('invalid-field', unknownFieldMessage(def, field));
    }
    const limit = opts.limit ?? Infinity;
    let afterKey = opts.afterKey ?? '';
    const keyWanted = where.find(([f]) => f === def.key)?.[1];
    if (keyWanted !== undefined) {
      const rec = keyWanted > afterKey ? await this.get(q, object, keyWanted) : null;
      return rec && matches(rec.fields, where) && limit > 0 ? [rec] : [];
    }
    const out: StoredRecord[] = [];
    while (out.length < limit) {
      const want = where.length === 0 ? Math.min(PAGE_SIZE, limit - out.length) : PAGE_SIZE;
      const page = await this.page(q, object, afterKey, want);
      for (const rec of page) {
        if (out.length >= limit) break;
        if (where.length === 0 || matches(rec.fields, where)) out.push(rec);
      }
      if (page.length < want) break;
      afterKey = page[page.length - 1]!.key;
    }
    return out;
  }

  async count(q: Queryable, object: string): Promise<number> {
    this.def(object);
    const r = await q.query<{ n: string }>('SELECT COUNT(*) AS n FROM records WHERE object = $1', [object]);
    return Number(r.rows[0]!.n);
  }

  private async storedFields(c: pg.PoolClient, object: string, key: string): Promise<Fields | null> {
    const r = await c.query<{ fields: Fields }>('SELECT fields FROM records WHERE object = $1 AND key = $2', [object, key]);
    return r.rows[0]?.fields ?? null;
  }

  private async writeEvent(c: pg.PoolClient, object: string, key: string, kind: EventKind, before: Fields | null, after: Fields | null, changed: string[], source: string | null, at: string): Promise<RecordEvent> {
    const r = await c.query<{ id: string }>(
      'INSERT INTO events (object, key, kind, before, after, changed, source, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id',
      [object, key, kind, before === null ? null : JSON.stringify(before), after === null ? null : JSON.stringify(after), JSON.stringify(changed), source, at],
    );
    return { id: Number(r.rows[0]!.id), object, key, kind, before, after, changed, source, at };
  }

  async setFields(w: WriteCtx, object: string, key: string, patch: FieldPatch, opts: SetFieldsOptions = {}): Promise<RecordEvent | null> {
    const def = this.def(object);
    const kp = keyProblem(def, key);
    const { values, problems } = checkPatch(def, patch, key);
    if (kp) problems.unshift(kp);
    problems.push(...nulProblems(key, values));
    if (problems.length > 0) throw new SkeinError('invalid-field', `${object} "${key}": ${problems.join('; ')}`);
    await w.lockWrites();
    const existing = await this.storedFields(w.c, object, key);
    if (existing === null && !opts.createIfMissing) {
      throw new SkeinError('record-not-found', `no ${object} record with key "${key}"`);
    }
    return this.apply(w.c, def, key, existing, values, opts.source ?? null, this.now());
  }

  /** Merges and writes; `before` is null for a new record. Caller holds the write lock. */
  private async apply(c: pg.PoolClient, def: ObjectDef, key: string, before: Fields | null, values: CheckedPatch, source: string | null, at: string): Promise<RecordEvent | null> {
    const { after, changed } = mergeFields(def, key, before, values);
    if (before && changed.length === 0) return null;
    const json = JSON.stringify(after);
    // The record and its event in one statement: one round trip less while the write lock is held.
    const write = before
      ? 'UPDATE records SET fields = $9, version = version + 1, updated_at = $8 WHERE object = $1 AND key = $2'
      : 'INSERT INTO records (object, key, fields, version, created_at, updated_at) VALUES ($1, $2, $9, 1, $8, $8)';
    const kind: EventKind = before ? 'updated' : 'created';
    const r = await c.query<{ id: string }>(
      `WITH w AS (${write}) INSERT INTO events (object, key, kind, before, after, changed, source, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
      [def.name, key, kind, before === null ? null : JSON.stringify(before), json, JSON.stringify(changed), source, at, json],
    );
    return { id: Number(r.rows[0]!.id), object: def.name, key, kind, before, after, changed, source, at };
  }

  /**
   * Rows are checked in memory before anything is written (a rejected row never reaches the
   * database), so the valid rows need no savepoints.
   */
  async upsertMany(w: WriteCtx, object: string, rows: FieldPatch[], opts: WriteOptions = {}): Promise<UpsertOutcome[]> {
    const def = this.def(object);
    const source = opts.source ?? null;
    const at = this.now();
    await w.lockWrites();
    const out: UpsertOutcome[] = [];
    for (const row of rows) {
      const rawKey = row[def.key];
      const key = typeof rawKey === 'string' ? rawKey : typeof rawKey === 'number' && Number.isFinite(rawKey) ? String(rawKey) : undefined;
      if (key === undefined && rawKey !== undefined && rawKey !== null) {
        out.push({ key: undefined, outcome: 'rejected', reason: `key field "${def.key}" must be a string; got ${typeof rawKey}` });
        continue;
      }
      const kp = keyProblem(def, key ?? '');
      const { values, problems } = checkPatch(def, row, key ?? '');
      if (kp) problems.unshift(kp);
      problems.push(...nulProblems(key ?? '', values));
      if (problems.length > 0) {
        out.push({ key: key || undefined, outcome: 'rejected', reason: problems.join('; ') });
        continue;
      }
      const event = await this.apply(w.c, def, key!, await this.storedFields(w.c, object, key!), values, source, at);
      out.push(event ? { key: key!, outcome: event.kind === 'created' ? 'created' : 'updated', event } : { key: key!, outcome: 'unchanged' });
    }
    return out;
  }

  async delete(w: WriteCtx, object: string, key: string, opts: WriteOptions = {}): Promise<RecordEvent | null> {
    this.def(object);
    if (key.includes('\u0000')) return null;
    await w.lockWrites();
    const r = await w.c.query<{ fields: Fields }>('DELETE FROM records WHERE object = $1 AND key = $2 RETURNING fields', [object, key]);
    const before = r.rows[0]?.fields;
    if (before === undefined) return null;
    return this.writeEvent(w.c, object, key, 'deleted', before, null, Object.keys(before).sort(), opts.source ?? null, this.now());
  }

  async readEvents(q: Queryable, opts: ReadEventsOptions = {}): Promise<RecordEvent[]> {
    const afterId = opts.afterId ?? 0;
    const limit = opts.limit ?? 100;
    const r = opts.object === undefined
      ? await q.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE id > $1 ORDER BY id LIMIT $2`, [afterId, limit])
      : await q.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE id > $1 AND object = $2 ORDER BY id LIMIT $3`, [afterId, opts.object, limit]);
    return r.rows.map(toEvent);
  }

  async pendingEventsFor(q: Queryable, workflow: string, opts: ReadEventsOptions = {}): Promise<RecordEvent[]> {
    const afterId = opts.afterId ?? 0;
    const limit = opts.limit ?? 100;
    const params: unknown[] = [afterId, workflow, limit];
    let objectFilter = '';
    if (opts.object !== undefined) {
      params.push(opts.object);
      objectFilter = 'AND e.object = $4';
    }
    const r = await q.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.id > $1 ${objectFilter}
         AND NOT EXISTS (SELECT 1 FROM event_handled h WHERE h.event_id = e.id AND h.workflow = $2)
       ORDER BY e.id LIMIT $3`,
      params,
    );
    return r.rows.map(toEvent);
  }

  async lastEventId(q: Queryable): Promise<number> {
    const r = await q.query<{ id: string | null }>('SELECT MAX(id) AS id FROM events');
    return Number(r.rows[0]?.id ?? 0);
  }

  /** True only for the first caller per (event, workflow), across every runner on the database. */
  async markEventHandled(w: WriteCtx, eventId: number, workflow: string): Promise<boolean> {
    // One round trip: the foreign key says when the event does not exist.
    try {
      const r = await w.c.query(
        'INSERT INTO event_handled (event_id, workflow, handled_at) VALUES ($1, $2, $3) ON CONFLICT (event_id, workflow) DO NOTHING',
        [eventId, workflow, this.now()],
      );
      return r.rowCount === 1;
    } catch (err) {
      if ((err as { code?: unknown }).code === '23503') throw new SkeinError('event-not-found', `no event with id ${eventId}`);
      throw err;
    }
  }
}

function matches(fields: Fields, where: Array<[string, string]>): boolean {
  return where.every(([f, v]) => stringForm(fields[f]) === v);
}
