// Runners, event leases and run ownership on PostgreSQL: how several runners on one database
// split the work. Claims and adoptions each run under a transaction-level advisory lock, so two
// runners never both take the same event or run, and one record's events stay in order.
import { toRun, type RunDbRow } from '../history-rows.js';
import { shiftIso, toRunnerRows, type RunnerDbRow } from '../sqlite/cluster.js';
import type { ClaimEventsOptions, RecordEvent, RunnerInfo, RunnerRow, RunRow } from '../types.js';
import { EVENT_COLUMNS, toEvent, type EventRow, type Queryable } from './records.js';

/** First key of the two-key advisory locks taken while claiming events ("sk") and adopting runs. */
const CLAIM_LOCK_CLASS = 0x736b;
const ADOPT_LOCK_KEY = 0x736b61646f70; // "skadop"

const HANDLED = 'EXISTS (SELECT 1 FROM event_handled h WHERE h.event_id = l.event_id AND h.workflow = l.workflow)';

export class PgCluster {
  constructor(private readonly now: () => string) {}

  async register(q: Queryable, r: RunnerInfo): Promise<void> {
    const now = this.now();
    await q.query(
      `INSERT INTO runners (id, role, host, pid, info, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, info = excluded.info`,
      [r.id, r.role, r.host, r.pid, r.info === undefined ? null : JSON.stringify(r.info), now],
    );
  }

  async heartbeat(q: Queryable, runner: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const r = await q.query('UPDATE runners SET heartbeat_at = $1 WHERE id = $2', [now, runner]);
    if (r.rowCount === 0) return false;
    await q.query(`DELETE FROM event_leases l WHERE l.runner = $1 AND ${HANDLED}`, [runner]);
    await q.query('UPDATE event_leases SET expires_at = $1 WHERE runner = $2', [shiftIso(now, ttlMs), runner]);
    return true;
  }

  async remove(q: Queryable, runner: string): Promise<void> {
    await q.query('DELETE FROM event_leases WHERE runner = $1', [runner]);
    await q.query('DELETE FROM runners WHERE id = $1', [runner]);
  }

  async list(q: Queryable, ttlMs: number): Promise<RunnerRow[]> {
    const cutoff = shiftIso(this.now(), -ttlMs);
    const runners = await q.query<RunnerDbRow>('SELECT * FROM runners ORDER BY started_at, id');
    const leases = await q.query<{ runner: string; workflow: string; n: string }>(
      `SELECT l.runner, l.workflow, COUNT(*) AS n FROM event_leases l WHERE NOT ${HANDLED} GROUP BY l.runner, l.workflow`,
    );
    const running = await q.query<{ id: string; runner: string | null }>("SELECT id, runner FROM runs WHERE status = 'running' ORDER BY id");
    return toRunnerRows(runners.rows, leases.rows, running.rows, cutoff);
  }

  /** Call inside a transaction (the advisory lock lasts until it ends). */
  async claimEvents(q: Queryable, workflow: string, runner: string, opts: ClaimEventsOptions): Promise<RecordEvent[]> {
    const now = this.now();
    await q.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [CLAIM_LOCK_CLASS, workflow]);
    await q.query(`DELETE FROM event_leases l WHERE l.runner = $1 AND ${HANDLED}`, [runner]);
    // Every event below the cursor is handled by this workflow: claims start there instead of
    // scanning the whole outbox each time. It moves to the first event not handled yet.
    const cursorKey = `event-cursor:${workflow}:${opts.object}`;
    const stored = await q.query<{ value: string }>('SELECT value FROM kv WHERE key = $1', [cursorKey]);
    const from = Number(stored.rows[0]?.value ?? 0);
    const first = await q.query<{ id: string }>(
      `SELECT e.id FROM events e WHERE e.object = $1 AND e.id >= $2
         AND NOT EXISTS (SELECT 1 FROM event_handled h WHERE h.event_id = e.id AND h.workflow = $3)
       ORDER BY e.id LIMIT 1`,
      [opts.object, from, workflow],
    );
    const cursor = first.rows[0] ? Number(first.rows[0].id) : Number((await q.query<{ n: string | null }>('SELECT MAX(id) + 1 AS n FROM events')).rows[0]?.n ?? from);
    if (cursor !== from) {
      await q.query(
        'INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
        [cursorKey, String(cursor), now],
      );
    }
    await q.query(
      `INSERT INTO event_leases (event_id, workflow, runner, claimed_at, expires_at)
       SELECT e.id, $1, $2, $3, $4 FROM events e
       WHERE e.object = $5 AND e.id >= $7
         AND NOT EXISTS (SELECT 1 FROM event_handled h WHERE h.event_id = e.id AND h.workflow = $1 AND h.event_id >= $7)
         AND NOT EXISTS (SELECT 1 FROM event_leases l WHERE l.event_id = e.id AND l.workflow = $1 AND l.expires_at >= $3)
         AND NOT EXISTS (
           SELECT 1 FROM event_leases l JOIN events e2 ON e2.id = l.event_id
           WHERE l.workflow = $1 AND l.runner <> $2 AND l.expires_at >= $3
             AND e2.object = e.object AND e2.key = e.key AND e2.id < e.id AND NOT ${HANDLED})
       ORDER BY e.id LIMIT $6
       ON CONFLICT (event_id, workflow) DO UPDATE SET runner = excluded.runner, claimed_at = excluded.claimed_at, expires_at = excluded.expires_at
         WHERE event_leases.expires_at < excluded.claimed_at`,
      [workflow, runner, now, shiftIso(now, opts.ttlMs), opts.object, opts.limit, cursor],
    );
    const held = await q.query<EventRow>(
      `SELECT ${EVENT_COLUMNS.split(', ').map((c) => 'e.' + c).join(', ')} FROM event_leases l JOIN events e ON e.id = l.event_id
       WHERE l.workflow = $1 AND l.runner = $2 AND NOT ${HANDLED}
       ORDER BY e.id`,
      [workflow, runner],
    );
    return held.rows.map(toEvent);
  }

  /** Call inside a transaction. */
  async adoptOrphanRuns(q: Queryable, runner: string, ttlMs: number): Promise<RunRow[]> {
    const now = this.now();
    await q.query('SELECT pg_advisory_xact_lock($1)', [ADOPT_LOCK_KEY]);
    const r = await q.query<RunDbRow>(
      `UPDATE runs SET runner = $1 WHERE status = 'running'
         AND (runner IS NULL OR runner NOT IN (SELECT id FROM runners WHERE heartbeat_at >= $2))
       RETURNING *`,
      [runner, shiftIso(now, -ttlMs)],
    );
    await q.query('DELETE FROM runners WHERE heartbeat_at < $1', [shiftIso(now, -10 * ttlMs)]);
    await q.query('DELETE FROM event_leases WHERE runner NOT IN (SELECT id FROM runners)');
    return r.rows.map(toRun).sort((a, b) => (a.id < b.id ? -1 : 1));
  }
}
