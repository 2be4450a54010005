// One group commit on a SQLite connection, shared by the store's own connection and its writer
// thread: the writes of a batch in one IMMEDIATE transaction, optimistic first, replayed with a
// savepoint around each write when one fails so that only the failing write is lost.
import type Database from 'better-sqlite3';
import { SkeinError } from '../../errors.js';
import type { WriteOp } from '../types.js';
import type { SqliteRecords } from './records.js';
import type { SqliteRuns } from './runs.js';

export type Control = Record<'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo', Database.Statement>;

export function controlStatements(db: Database.Database): Control {
  return {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    savepoint: db.prepare('SAVEPOINT w'),
    release: db.prepare('RELEASE w'),
    rollbackTo: db.prepare('ROLLBACK TO w'),
  };
}

export interface Outcome {
  ok: boolean;
  value: unknown;
}

/**
 * Runs `fns` in one transaction and commits it. Throws (after rolling back) only when the
 * transaction itself fails (BEGIN or COMMIT, e.g. SQLITE_BUSY): then no write took effect.
 */
export function runBatch(db: Database.Database, c: Control, fns: ReadonlyArray<() => unknown>): Outcome[] {
  let results: Outcome[];
  try {
    // Optimistic pass: no savepoints, since writes rarely fail. If one does, undo the batch and
    // replay it with a savepoint around each write so only the failing write is lost.
    c.begin.run();
    try {
      results = fns.map((fn) => ({ ok: true, value: fn() }));
    } catch {
      c.rollback.run();
      c.begin.run();
      results = fns.map((fn) => {
        c.savepoint.run();
        try {
          const value = fn();
          c.release.run();
          return { ok: true, value };
        } catch (err) {
          c.rollbackTo.run();
          c.release.run();
          return { ok: false, value: err };
        }
      });
    }
    c.commit.run();
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
  return results;
}

/** Applies one Store.commit's operations; their results in order. */
export function applyOps(records: SqliteRecords, runs: SqliteRuns, ops: readonly WriteOp[]): unknown[] {
  return ops.map((o) => {
    switch (o.op) {
      case 'setFields':
        return records.setFields(o.object, o.key, o.patch, o.opts);
      case 'recordStep':
        return runs.recordStep(o.runId, o.recordKey, o.step);
      case 'startRunRecord':
        return runs.startRunRecord(o.runId, o.object, o.key);
      case 'finishRunRecord':
        return runs.finishRunRecord(o.runId, o.key, o.status, o.error);
      case 'markEventHandled':
        return records.markEventHandled(o.eventId, o.workflow);
    }
  });
}

/** An error as it crosses to another thread (structured clone drops the class). */
export interface WireError {
  skein: boolean;
  name: string;
  message: string;
  code?: unknown;
  retryable?: boolean;
}

export function toWire(err: unknown): WireError {
  const e = err as { name?: unknown; message?: unknown; code?: unknown; retryable?: unknown };
  return {
    skein: err instanceof SkeinError,
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(err),
    code: e?.code,
    retryable: e?.retryable === true,
  };
}

export function fromWire(w: WireError): Error {
  if (w.skein) return new SkeinError(String(w.code), w.message, { retryable: w.retryable });
  const e = new Error(w.message) as Error & { code?: unknown };
  e.name = w.name;
  if (w.code !== undefined) e.code = w.code;
  return e;
}
