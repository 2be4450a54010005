import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SkeinError } from '../../src/errors.js';
import { defaultStatePath, openStore } from '../../src/store/index.js';
import { LATEST_VERSION, MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import { storeError } from '../../src/store/sqlite/errors.js';
import { tempDir, testObjects } from './helpers.js';

function versions(file: string): number[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all() as number[]);
  } finally {
    db.close();
  }
}

describe('migrations', () => {
  it('are numbered 1..N in order', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(LATEST_VERSION).toBe(MIGRATIONS.length);
  });

  it('create a fresh database with parent directories, WAL and foreign keys', async () => {
    const file = path.join(tempDir(), 'a', 'b', 'state.db');
    const store = await openSqliteStore(file, testObjects());
    await store.close();
    expect(fs.existsSync(file)).toBe(true);
    expect(versions(file)).toEqual(MIGRATIONS.map((m) => m.version));
    const db = new Database(file);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('5 marks the outbox of a store whose events were handled as in use (new workflows start at its head)', async () => {
    const dir = tempDir();
    const setUp = (file: string, handled: boolean) => {
      // A store as version 4 left it.
      const db = new Database(file);
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      for (const m of MIGRATIONS.filter((x) => x.version <= 4)) {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-01-01T00:00:00Z');
      }
      db.prepare("INSERT INTO events (object, key, kind, changed, source, at) VALUES ('users', 'a', 'created', '[]', 'cli', '2026-01-01T00:00:00Z')").run();
      if (handled) db.prepare("INSERT INTO event_handled (event_id, workflow, handled_at) VALUES (1, 'w', '2026-01-01T00:00:00Z')").run();
      db.close();
    };
    for (const handled of [true, false]) {
      const file = path.join(dir, `v4-${handled}.db`);
      setUp(file, handled);
      const store = await openSqliteStore(file, testObjects());
      expect(await store.getKv('outbox:consumed'), String(handled)).toBe(handled ? 'migration 5' : null);
      await store.close();
    }
  });

  it('are idempotent on reopen and keep the data', async () => {
    const file = path.join(tempDir(), 'state.db');
    const first = await openSqliteStore(file, testObjects());
    await first.setFields('users', 'alice', { email: 'a@example.com' }, { createIfMissing: true });
    await first.close();
    const second = await openSqliteStore(file, testObjects());
    expect((await second.getRecord('users', 'alice'))?.fields.email).toBe('a@example.com');
    await second.close();
    expect(versions(file)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('refuse a database written by a newer skein with store-too-new', async () => {
    const file = path.join(tempDir(), 'state.db');
    await (await openSqliteStore(file, testObjects())).close();
    const db = new Database(file);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(LATEST_VERSION + 1, 'future', 'x');
    db.close();
    const err = await openSqliteStore(file, testObjects()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SkeinError);
    expect((err as SkeinError).code).toBe('store-too-new');
    expect((err as SkeinError).message).toContain(`schema version ${LATEST_VERSION + 1}`);
  });

  it('report a file that is not a database as store-open-failed', async () => {
    const file = path.join(tempDir(), 'state.db');
    fs.writeFileSync(file, 'this is not sqlite, just some text that is long enough to have a header'.repeat(10));
    await expect(openSqliteStore(file, testObjects())).rejects.toMatchObject({ code: 'store-open-failed' });
  });

  it('refuses another program\'s SQLite file without writing to it', async () => {
    const file = path.join(tempDir(), 'other.db');
    const other = new Database(file);
    other.exec('CREATE TABLE records (x INTEGER); CREATE TABLE notes (body TEXT)');
    other.close();
    const before = fs.readFileSync(file);
    await expect(openSqliteStore(file, testObjects())).rejects.toMatchObject({
      code: 'store-foreign',
      message: expect.stringMatching(/other\.db is not a skein store \(it holds other tables: notes, records\); use another --state file$/),
    });
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('leaves no trace when a migration fails: schema_migrations comes with the first one', async () => {
    const file = path.join(tempDir(), 'state.db');
    // An empty database whose first migration cannot run (one of its names is taken by a view).
    const db = new Database(file);
    db.exec('CREATE VIEW records AS SELECT 1 AS x');
    db.close();
    await expect(openSqliteStore(file, testObjects())).rejects.toMatchObject({ code: 'store-open-failed' });
    const after = new Database(file, { readonly: true });
    expect(after.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()).toEqual([]);
    after.close();
  });

  it('turns a write refused by SQLite into store-read-only naming the file', () => {
    const file = path.join(tempDir(), 'ro.db');
    new Database(file).exec('CREATE TABLE t (x)');
    const ro = new Database(file, { readonly: true });
    let raw: unknown;
    try {
      ro.exec('INSERT INTO t VALUES (1)');
    } catch (err) {
      raw = err;
    }
    ro.close();
    const mapped = storeError(raw, file, 5000);
    expect(mapped).toMatchObject({ code: 'store-read-only', message: expect.stringContaining(`state database ${file} cannot be written (SQLITE_READONLY)`) });
    const other = new Error('x');
    expect(storeError(other, file, 5000)).toBe(other);
  });
});

describe('openStore and defaultStatePath', () => {
  it('uses SKEIN_STATE, else .skein/state.db under cwd', () => {
    expect(defaultStatePath({}, '/work/p')).toBe(path.join('/work/p', '.skein', 'state.db'));
    expect(defaultStatePath({ SKEIN_STATE: 'x/s.db' }, '/work/p')).toBe(path.resolve('/work/p', 'x/s.db'));
    expect(defaultStatePath({ SKEIN_STATE: '/abs/s.db' }, '/work/p')).toBe('/abs/s.db');
  });

  it('opens SQLite for a path and refuses URLs of other databases', async () => {
    const store = await openStore(path.join(tempDir(), 's.db'), testObjects());
    expect(await store.countRecords('users')).toBe(0);
    await store.close();
    await expect(openStore('mysql://u:p@h/db', testObjects())).rejects.toMatchObject({ code: 'store-unsupported' });
  });
});
