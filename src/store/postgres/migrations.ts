// Versioned schema of the PostgreSQL store. Append new migrations at the end with the next
// version; never edit or reorder a shipped one. Applied versions are recorded in
// `schema_migrations`. The whole upgrade runs in one transaction under an advisory lock, so
// several runners starting at once against a new database apply each migration exactly once.
import type pg from 'pg';
import { SkeinError } from '../../errors.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Key of the transaction-level advisory lock taken while migrating ("skein-mig" in ASCII-ish). */
export const MIGRATION_LOCK_KEY = 0x736b65696e6d;

// Keys and run ids use the "C" collation so that ORDER BY and `key > $n` compare bytes, as
// SQLite does, whatever the database's default collation is.
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'records, outbox, run history, kv',
    sql: `
      CREATE TABLE records (
        object     TEXT NOT NULL,
        key        TEXT COLLATE "C" NOT NULL,
        fields     JSONB NOT NULL,            -- flat object, includes the key field
        version    INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (object, key)
      );

      -- IDENTITY: ids are never reused, even after old events are pruned.
      CREATE TABLE events (
        id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        object  TEXT NOT NULL,
        key     TEXT NOT NULL,
        kind    TEXT NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
        before  JSONB,
        after   JSONB,
        changed JSONB NOT NULL,               -- array of field names
        source  TEXT,
        at      TEXT NOT NULL
      );
      CREATE INDEX events_by_object ON events (object, id);

      CREATE TABLE event_handled (
        event_id   BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        workflow   TEXT NOT NULL,
        handled_at TEXT NOT NULL,
        PRIMARY KEY (event_id, workflow)
      );
      CREATE INDEX event_handled_by_workflow ON event_handled (workflow, event_id);

      CREATE TABLE runs (
        id           TEXT COLLATE "C" PRIMARY KEY,
        workflow     TEXT NOT NULL,
        trigger      TEXT NOT NULL,
        trigger_data TEXT,                    -- JSON text, possibly truncated (then not JSON)
        status       TEXT NOT NULL,
        summary      TEXT,
        started_at   TEXT NOT NULL,
        finished_at  TEXT
      );
      CREATE INDEX runs_by_workflow ON runs (workflow, id);
      CREATE INDEX runs_by_status ON runs (status, id);

      -- seq keeps the order in which records were added to a run.
      CREATE TABLE run_records (
        seq         BIGINT GENERATED ALWAYS AS IDENTITY,
        run_id      TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        record_key  TEXT NOT NULL,
        object      TEXT NOT NULL,
        status      TEXT NOT NULL,
        error       TEXT,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        PRIMARY KEY (run_id, record_key)
      );

      -- seq keeps the order in which steps were first recorded.
      CREATE TABLE run_steps (
        seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id         TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
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
        duration_ms    BIGINT,
        started_at     TEXT,
        finished_at    TEXT,
        UNIQUE (run_id, record_key, step_id)
      );
      CREATE INDEX run_steps_in_doubt ON run_steps (record_key, step_id) WHERE status IN ('running', 'unknown');

      CREATE TABLE kv (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'schedule tick claims (each tick fires once across runners)',
    sql: `
      CREATE TABLE schedule_claims (
        workflow   TEXT NOT NULL,
        tick       TEXT NOT NULL,
        runner     TEXT NOT NULL,
        claimed_at TEXT NOT NULL,
        PRIMARY KEY (workflow, tick)
      );
    `,
  },
  {
    version: 3,
    name: 'runners, event leases, run ownership (several runners share one store)',
    sql: `
      CREATE TABLE runners (
        id           TEXT PRIMARY KEY,
        role         TEXT NOT NULL,
        host         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        info         TEXT,
        started_at   TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
      );

      CREATE TABLE event_leases (
        event_id   BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        workflow   TEXT NOT NULL,
        runner     TEXT NOT NULL,
        claimed_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        PRIMARY KEY (event_id, workflow)
      );
      CREATE INDEX event_leases_by_runner ON event_leases (runner);

      ALTER TABLE runs ADD COLUMN runner TEXT;
      CREATE INDEX runs_running ON runs (runner) WHERE status = 'running';
    `,
  },
  {
    version: 4,
    name: 'the stable code of a step error; the outbox marked consumed if events were handled',
    sql: `
      ALTER TABLE run_steps ADD COLUMN error_code TEXT;
      -- engine/pending.ts starts a workflow added after the outbox is in use at its head; a store
      -- whose events were handled before that marker existed is in use too.
      INSERT INTO kv (key, value, updated_at)
        SELECT 'outbox:consumed', 'migration 4', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') WHERE EXISTS (SELECT 1 FROM event_handled)
        ON CONFLICT (key) DO NOTHING;
    `,
  },
];

/** The newest schema version this build knows. */
export const LATEST_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

/**
 * A schema that holds tables but no skein schema (another application's database given as
 * --state) is refused before anything is created in it, as the SQLite store refuses such a file.
 * Resolves whether a skein schema is there.
 */
async function refuseForeignSchema(client: pg.PoolClient, location: string): Promise<boolean> {
  const r = await client.query<{ name: string }>('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name');
  const tables = r.rows.map((x) => x.name);
  if (tables.length === 0) return false;
  if (tables.includes('schema_migrations')) return true;
  const shown = tables.slice(0, 5).join(', ') + (tables.length > 5 ? ', ...' : '');
  throw new SkeinError('store-foreign', `state database ${location} is not a skein store (its schema holds other tables: ${shown}); use another database or schema`);
}

async function currentVersion(client: pg.PoolClient): Promise<number> {
  const r = await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
  return r.rows[0]?.v ?? 0;
}

/**
 * Brings the database to LATEST_VERSION in one transaction under MIGRATION_LOCK_KEY. Throws
 * `store-too-new` when the database was written by a newer skein.
 */
export async function migrate(pool: pg.Pool, location: string, now: () => string): Promise<{ from: number; to: number }> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const present = await refuseForeignSchema(client, location);
      // An up-to-date schema needs no DDL: a role that may only read can then open the store.
      if (present && (await currentVersion(client)) === LATEST_VERSION) {
        await client.query('COMMIT');
        return { from: LATEST_VERSION, to: LATEST_VERSION };
      }
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        applied_at TEXT NOT NULL
      )`);
      const from = await currentVersion(client);
      if (from > LATEST_VERSION) {
        throw new SkeinError(
          'store-too-new',
          `state database ${location} has schema version ${from}, but this skein knows versions up to ${LATEST_VERSION}; upgrade skein or use another --state database`,
        );
      }
      for (const m of MIGRATIONS) {
        if (m.version <= from) continue;
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, now()]);
      }
      const to = await currentVersion(client);
      await client.query('COMMIT');
      return { from, to };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } finally {
    client.release();
  }
}
