// A fresh PostgreSQL database per test file, dropped afterwards. PostgreSQL must answer on
// 127.0.0.1:5432 (trust auth, user postgres; .ci/run starts it) or SKEIN_TEST_PG_URL: when it
// does not, the caller's tests fail with this message, never skip.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const ADMIN_URL = process.env.SKEIN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface PgDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function freshPgDatabase(prefix = 'skein_test'): Promise<PgDatabase> {
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (err) {
    await admin.end().catch(() => undefined);
    throw new Error(`PostgreSQL is not reachable at 127.0.0.1:5432 (${(err as Error).message}); start it as .ci/run does, or set SKEIN_TEST_PG_URL`);
  }
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await admin.end().catch(() => undefined);
    },
  };
}
