// Versioned schema of the SQLite store. Append new migrations at the end with the next version;
// never edit or reorder a shipped one. Applied versions are recorded in `schema_migrations`.
import type Database from 'better-sqlite3';
import { SkeinError } from '../../errors.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'records, outbox, run history, kv',
    sql: `
      CREATE TABLE records (
        object     TEXT NOT NULL,
        key        TEXT NOT NULL,
        fields     TEXT NOT NULL,            -- JSON object, flat, includes the key field
        version    INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (object, key)
      ) WITHOUT ROWID;

      -- AUTOINCREMENT: ids are never reused, even after old events are pruned.
      CREATE TABLE events (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        object  TEXT NOT NULL,
        key     TEXT NOT NULL,
        kind    TEXT NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
        before  TEXT,
        after   TEXT,
        changed TEXT NOT NULL,               -- JSON array of field names
        source  TEXT,
        at      TEXT NOT NULL
      );

      CREATE TABLE event_handled (
        event_id   INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        workflow   TEXT NOT NULL,
        handled_at TEXT NOT NULL,
        PRIMARY KEY (event_id, workflow)
      ) WITHOUT ROWID;
      CREATE INDEX event_handled_by_workflow ON event_handled (workflow, event_id);

      CREATE TABLE runs (
        id           TEXT PRIMARY KEY,
        workflow     TEXT NOT NULL,
        trigger      TEXT NOT NULL,
        trigger_data TEXT,
        status       TEXT NOT NULL,
        summary      TEXT,
        started_at   TEXT NOT NULL,
        finished_at  TEXT
      );
      CREATE INDEX runs_by_workflow ON runs (workflow, id);
      CREATE INDEX runs_by_status ON runs (status, id);

      CREATE TABLE run_records (
        run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        record_key  TEXT NOT NULL,
        object      TEXT NOT NULL,
        status      TEXT NOT NULL,
        error       TEXT,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        PRIMARY KEY (run_id, record_key)
      );

      -- rowid keeps the order in which steps were first recorded.
      CREATE TABLE run_steps (
        run_id         TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        record_key     TEXT NOT NULL,
        step_id        TEXT NOT NULL,
        status         TEXT NOT NULL,
        request        TEXT,
        response       TEXT,
        http_status    INTEGER,
        qualys_code    TEXT,
        qualys_message TEXT,
        outputs        TEXT,
        error          TEXT,
        attempts       INTEGER NOT NULL DEFAULT 0,
        duration_ms    INTEGER,
        started_at     TEXT,
        finished_at    TEXT,
        UNIQUE (run_id, record_key, step_id)
      );

      CREATE TABLE kv (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'index of steps in doubt (running or unknown), for crash recovery',
    sql: `
      CREATE INDEX run_steps_in_doubt ON run_steps (record_key, step_id) WHERE status IN ('running', 'unknown');
    `,
  },
  {
    version: 3,
    name: 'schedule tick claims (each tick fires once across runners)',
    sql: `
      CREATE TABLE schedule_claims (
        workflow   TEXT NOT NULL,
        tick       TEXT NOT NULL,
        runner     TEXT NOT NULL,
        claimed_at TEXT NOT NULL,
        PRIMARY KEY (workflow, tick)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 4,
    name: 'runners, event leases, run ownership (several runners share one store)',
    sql: `
      -- A process that runs workflows (a daemon or a CLI run) while it is alive: its heartbeat
      -- keeps its leases and its runs its own.
      CREATE TABLE runners (
        id           TEXT PRIMARY KEY,
        role         TEXT NOT NULL,
        host         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        info         TEXT,
        started_at   TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
      );

      -- An event a runner is handling for a workflow; gone once handled, void once expired.
      CREATE TABLE event_leases (
        event_id   INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        workflow   TEXT NOT NULL,
        runner     TEXT NOT NULL,
        claimed_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        PRIMARY KEY (event_id, workflow)
      ) WITHOUT ROWID;
      CREATE INDEX event_leases_by_runner ON event_leases (runner);

      -- The runner that owns a run while it is running; NULL for runs written before version 4.
      ALTER TABLE runs ADD COLUMN runner TEXT;
    `,
  },
  {
    version: 5,
    name: 'the stable code of a step error; the outbox marked consumed if events were handled',
    sql: `
      ALTER TABLE run_steps ADD COLUMN error_code TEXT;
      -- engine/pending.ts starts a workflow added after the outbox is in use at its head; a store
      -- whose events were handled before that marker existed is in use too.
      INSERT OR IGNORE INTO kv (key, value, updated_at)
        SELECT 'outbox:consumed', 'migration 5', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE EXISTS (SELECT 1 FROM event_handled);
    `,
  },
];

/** The newest schema version this build knows. */
export const LATEST_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

function currentVersion(db: Database.Database): number {
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

/**
 * Brings the database to LATEST_VERSION. Each migration runs in its own IMMEDIATE transaction
 * and re-reads the version inside it, so two runners opening the same new file do not both
 * apply it. Throws `store-too-new` when the file was written by a newer skein.
 */
export function migrate(db: Database.Database, location: string, now: () => string): { from: number; to: number } {
  // Created in the first migration's transaction: a migration that fails leaves no trace.
  const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`;
  const hasTable = () => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get() !== undefined;
  const from = hasTable() ? currentVersion(db) : 0;
  if (from > LATEST_VERSION) {
    throw new SkeinError(
      'store-too-new',
      `state database ${location} has schema version ${from}, but this skein knows versions up to ${LATEST_VERSION}; upgrade skein or use another --state file`,
    );
  }
  for (const m of MIGRATIONS) {
    if (from >= m.version) continue;
    const apply = db.transaction(() => {
      db.exec(createTable);
      if (currentVersion(db) >= m.version) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, now());
    });
    apply.immediate();
  }
  return { from, to: hasTable() ? currentVersion(db) : 0 };
}

/**
 * Refuses a database that holds tables but no skein schema (another program's file given as
 * --state) before anything is written to it; migrating it would mix our tables into theirs.
 */
export function refuseForeignDatabase(db: Database.Database, location: string): void {
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
  if (tables.length === 0 || tables.includes('schema_migrations')) return;
  const shown = tables.slice(0, 5).join(', ') + (tables.length > 5 ? ', ...' : '');
  throw new SkeinError('store-foreign', `state database ${location} is not a skein store (it holds other tables: ${shown}); use another --state file`);
}
