// Shared call slots on PostgreSQL: session-level advisory locks on one dedicated connection.
// A slot is the lock (hashtext(key), n); the server drops every lock of a session whose
// connection ends, so a runner killed mid-call frees its slots at once, with no lease to expire.
// A pause after a limit block is a kv row every runner reads with its next take.
import pg from 'pg';
import type { SlotLocks } from '../types.js';

/** The kv row holding a key's shared pause (epoch ms). */
const pauseKey = (key: string) => `limiter-pause:${key}`;

export async function openPgSlotLocks(url: string, onError: (err: unknown) => void = () => undefined): Promise<SlotLocks> {
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  const connect = (): Promise<pg.Client> =>
    (connecting ??= (async () => {
      const c = new pg.Client({ connectionString: url, application_name: 'skein-slots', connectionTimeoutMillis: 10_000 });
      // A lost connection lost its locks too: forget it; the next call reconnects.
      c.on('error', (err) => {
        onError(err);
        if (client === c) client = undefined;
      });
      c.on('end', () => {
        if (client === c) client = undefined;
      });
      try {
        await c.connect();
      } catch (err) {
        connecting = undefined;
        throw err;
      }
      client = c;
      connecting = undefined;
      return c;
    })());
  const conn = async () => client ?? (await connect());
  // One statement at a time on the connection, in call order (a give before a later take).
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn);
    chain = run.catch(() => undefined);
    return run;
  };
  return {
    take: (key, limit, held) => serial(async () => {
      const c = await conn();
      // CASE fixes the order: a slot this session already holds is never locked again (advisory
      // locks nest within a session, so pg_try_advisory_lock would say yes to it).
      const r = await c.query<{ s: number | null; until: string }>(
        `WITH p AS (SELECT COALESCE((SELECT value::bigint FROM kv WHERE key = $4), 0) AS until)
         SELECT p.until, (
           SELECT s FROM generate_series(0, $2::int - 1) AS s
           WHERE CASE WHEN p.until > $5::bigint OR s = ANY($3::int[]) THEN false ELSE pg_try_advisory_lock(hashtext($1), s) END
           LIMIT 1) AS s
         FROM p`,
        [key, limit, held, pauseKey(key), Date.now()],
      );
      return { slot: r.rows[0]?.s ?? null, pausedUntil: Number(r.rows[0]?.until ?? 0) };
    }),
    pause: (key, untilMs) => serial(async () => {
      const c = await conn();
      await c.query(
        `INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET value = GREATEST(kv.value::bigint, excluded.value::bigint)::text, updated_at = excluded.updated_at`,
        [pauseKey(key), String(Math.round(untilMs)), new Date().toISOString()],
      );
    }),
    give: (key, slot) => serial(async () => {
      const c = client;
      if (!c) return; // the connection is gone, and its locks with it
      await c.query('SELECT pg_advisory_unlock(hashtext($1), $2)', [key, slot]);
    }),
    async close() {
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
