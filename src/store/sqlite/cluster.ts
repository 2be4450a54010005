// Runners, event leases and run ownership on SQLite. One SQLite file serves one machine, but a
// daemon and CLI runs may still share it, so the rules are the same as on PostgreSQL: a runner
// is alive while its heartbeat is fresh, and what a dead runner held becomes claimable.
import type Database from 'better-sqlite3';
import { toRun, type RunDbRow } from '../history-rows.js';
import type { ClaimEventsOptions, RecordEvent, RunnerInfo, RunnerRow, RunRow } from '../types.js';
import { EVENT_COLUMNS, toEvent, type EventRow } from './records.js';

/** `now` shifted by `ms` (negative: into the past), in the store's ISO form. */
export function shiftIso(now: string, ms: number): string {
  return new Date(Date.parse(now) + ms).toISOString();
}

interface RunnerDbRow {
  id: string;
  role: string;
  host: string;
  pid: number;
  info: string | null;
  started_at: string;
  heartbeat_at: string;
}

export class SqliteCluster {
  private readonly s;

  constructor(
    db: Database.Database,
    private readonly now: () => string,
  ) {
    this.s = {
      register: db.prepare(
        `INSERT INTO runners (id, role, host, pid, info, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, info = excluded.info`,
      ),
      beat: db.prepare('UPDATE runners SET heartbeat_at = ? WHERE id = ?'),
      extend: db.prepare('UPDATE event_leases SET expires_at = ? WHERE runner = ?'),
      dropHandled: db.prepare(
        'DELETE FROM event_leases WHERE runner = ? AND EXISTS (SELECT 1 FROM event_handled h WHERE h.event_id = event_leases.event_id AND h.workflow = event_leases.workflow)',
      ),
      dropLeases: db.prepare('DELETE FROM event_leases WHERE runner = ?'),
      remove: db.prepare('DELETE FROM runners WHERE id = ?'),
      runners: db.prepare<[], RunnerDbRow>('SELECT * FROM runners ORDER BY started_at, id'),
      leaseCounts: db.prepare<[], { runner: string; workflow: string; n: number }>(
        `SELECT l.runner, l.workflow, COUNT(*) AS n FROM event_leases l
         WHERE NOT EXISTS (SELECT 1 FROM event_handled h WHERE h.event_id = l.event_id AND h.workflow = l.workflow)
         GROUP BY l.runner, l.workflow`,
      ),
      runningRuns: db.prepare<[], { id: string; runner: string | null }>("SELECT id, runner FROM runs WHERE status = 'running' ORDER BY id"),
      claim: db.prepare<{ wf: string; runner: string; now: string; until: string; object: string; limit: number; cursor: number }>(
        `INSERT INTO event_leases (event_id, workflow, runner, claimed_at, expires_at)
         SELECT e.id, @wf, @runner, @now, @until FROM events e
         WHERE e.object = @object AND e.id >= @cursor
           AND NOT EXISTS (SELECT 1 FROM event_handled h WHERE h.event_id = e.id AND h.workflow = @wf)
           AND NOT EXISTS (SELECT 1 FROM event_leases l WHERE l.event_id = e.id AND l.workflow = @wf AND l.expires_at >= @now)
           AND NOT EXISTS (
             SELECT 1 FROM event_leases l JOIN events e2 ON e2.id = l.event_id
             WHERE l.workflow = @wf AND l.runner <> @runner AND l.expires_at >= @now
               AND e2.object = e.object AND e2.key = e.key AND e2.id < e.id
               AND NOT EXISTS (SELECT 1 FROM event_handled h WHERE h.event_id = l.event_id AND h.workflow = @wf))
         ORDER BY e.id LIMIT @limit
         ON CONFLICT (event_id, workflow) DO UPDATE SET runner = excluded.runner, claimed_at = excluded.claimed_at, expires_at = excluded.expires_at
           WHERE event_leases.expires_at < excluded.claimed_at`,
      ),
      held: db.prepare<[string, string], EventRow>(
        `SELECT ${EVENT_COLUMNS.split(', ').map((c) => 'e.' + c).join(', ')} FROM event_leases l JOIN events e ON e.id = l.event_id
         WHERE l.workflow = ? AND l.runner = ?
           AND NOT EXISTS (SELECT 1 FROM event_handled h WHERE h.event_id = l.event_id AND h.workflow = l.workflow)
         ORDER BY e.id`,
      ),
      adopt: db.prepare<[string, string], RunDbRow>(
        `UPDATE runs SET runner = ? WHERE status = 'running'
           AND (runner IS NULL OR runner NOT IN (SELECT id FROM runners WHERE heartbeat_at >= ?))
         RETURNING *`,
      ),
      cursorGet: db.prepare<[string], { value: string }>('SELECT value FROM kv WHERE key = ?'),
      cursorSet: db.prepare(
        'INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
      ),
      firstUnhandled: db.prepare<[string, number, string], { id: number }>(
        `SELECT e.id FROM events e WHERE e.object = ? AND e.id >= ?
           AND NOT EXISTS (SELECT 1 FROM event_handled h WHERE h.event_id = e.id AND h.workflow = ?)
         ORDER BY e.id LIMIT 1`,
      ),
      nextId: db.prepare<[], { n: number | null }>('SELECT MAX(id) + 1 AS n FROM events'),
      forget: db.prepare('DELETE FROM runners WHERE heartbeat_at < ?'),
      forgetLeases: db.prepare('DELETE FROM event_leases WHERE runner NOT IN (SELECT id FROM runners)'),
    };
  }

  register(r: RunnerInfo): void {
    const now = this.now();
    this.s.register.run(r.id, r.role, r.host, r.pid, r.info === undefined ? null : JSON.stringify(r.info), now, now);
  }

  heartbeat(runner: string, ttlMs: number): boolean {
    const now = this.now();
    if (this.s.beat.run(now, runner).changes === 0) return false;
    this.s.dropHandled.run(runner);
    this.s.extend.run(shiftIso(now, ttlMs), runner);
    return true;
  }

  remove(runner: string): void {
    this.s.dropLeases.run(runner);
    this.s.remove.run(runner);
  }

  list(ttlMs: number): RunnerRow[] {
    const cutoff = shiftIso(this.now(), -ttlMs);
    return toRunnerRows(this.s.runners.all(), this.s.leaseCounts.all(), this.s.runningRuns.all(), cutoff);
  }

  claimEvents(workflow: string, runner: string, opts: ClaimEventsOptions): RecordEvent[] {
    const now = this.now();
    this.s.dropHandled.run(runner);
    // Every event below the cursor is handled by this workflow: claims start there instead of
    // scanning the whole outbox each time. It moves to the first event not handled yet.
    const cursorKey = `event-cursor:${workflow}:${opts.object}`;
    const from = Number(this.s.cursorGet.get(cursorKey)?.value ?? 0);
    const cursor = this.s.firstUnhandled.get(opts.object, from, workflow)?.id ?? this.s.nextId.get()?.n ?? from;
    if (cursor !== from) this.s.cursorSet.run(cursorKey, String(cursor), now);
    this.s.claim.run({ wf: workflow, runner, now, until: shiftIso(now, opts.ttlMs), object: opts.object, limit: opts.limit, cursor });
    return this.s.held.all(workflow, runner).map(toEvent);
  }

  adoptOrphanRuns(runner: string, ttlMs: number): RunRow[] {
    const now = this.now();
    const adopted = this.s.adopt.all(runner, shiftIso(now, -ttlMs)).map(toRun);
    this.s.forget.run(shiftIso(now, -10 * ttlMs));
    this.s.forgetLeases.run();
    return adopted.sort((a, b) => (a.id < b.id ? -1 : 1));
  }
}

/** Runner rows plus their leases, in the shape both stores return. */
export function toRunnerRows(
  runners: RunnerDbRow[],
  leases: Array<{ runner: string; workflow: string; n: number | string }>,
  running: Array<{ id: string; runner: string | null }>,
  aliveCutoff: string,
): RunnerRow[] {
  return runners.map((r) => {
    const events: Record<string, number> = {};
    for (const l of leases) if (l.runner === r.id) events[l.workflow] = Number(l.n);
    return {
      id: r.id,
      role: r.role,
      host: r.host,
      pid: Number(r.pid),
      info: r.info === null ? undefined : (JSON.parse(r.info) as unknown),
      started_at: r.started_at,
      heartbeat_at: r.heartbeat_at,
      alive: r.heartbeat_at >= aliveCutoff,
      leases: { events, runs: running.filter((x) => x.runner === r.id).map((x) => x.id) },
    };
  });
}

export type { RunnerDbRow };
