// Run history on SQLite: runs, the records each run touched, and each record's steps. Large
// text (request and response bodies, outputs, errors) is cut at TEXT_CAP_BYTES so one chatty
// endpoint cannot bloat the state file.
import type Database from 'better-sqlite3';
import { SkeinError } from '../../errors.js';
import { newRunId, STEP_COLUMNS, toRun, toStep, writeJson, writeText, type RunDbRow, type RunRecordDbRow, type StepDbRow } from '../history-rows.js';
import type { ListRunsOptions, NewRun, RunDetail, RunRecordRow, RunRecordStatus, RunRow, RunStatus, StepInDoubt, StepRow } from '../types.js';

type StepColumn = (typeof STEP_COLUMNS)[number];

/** The StepRow field each column is written from, and how. */
const ENCODE: Record<StepColumn, (s: StepRow) => unknown> = {
  status: (s) => s.status,
  request: (s) => writeJson(s.request),
  response: (s) => writeText(s.response),
  http_status: (s) => s.http_status,
  qualys_code: (s) => s.qualys_code,
  qualys_message: (s) => writeText(s.qualys_message),
  outputs: (s) => writeJson(s.outputs),
  error: (s) => writeText(s.error),
  attempts: (s) => s.attempts,
  duration_ms: (s) => s.duration_ms,
  started_at: (s) => s.started_at,
  finished_at: (s) => s.finished_at,
  error_code: (s) => s.error_code,
};

const isForeignKeyError = (err: unknown) => (err as { code?: unknown })?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';

export class SqliteRuns {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => string,
  ) {
    this.s = {
      insertRun: db.prepare(
        "INSERT INTO runs (id, workflow, trigger, trigger_data, status, started_at, runner) VALUES (?, ?, ?, ?, 'running', ?, ?)",
      ),
      getRun: db.prepare<[string], RunDbRow>('SELECT * FROM runs WHERE id = ?'),
      finishRun: db.prepare('UPDATE runs SET status = ?, summary = ?, finished_at = ? WHERE id = ?'),
      startRecord: db.prepare(
        "INSERT OR IGNORE INTO run_records (run_id, record_key, object, status, started_at) VALUES (?, ?, ?, 'running', ?)",
      ),
      finishRecord: db.prepare('UPDATE run_records SET status = ?, error = ?, finished_at = ? WHERE run_id = ? AND record_key = ?'),
      // startRecord then finishRecord in one statement: a row already there keeps its start.
      writeRecord: db.prepare(
        `INSERT INTO run_records (run_id, record_key, object, status, error, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, record_key) DO UPDATE SET status = excluded.status, error = excluded.error, finished_at = excluded.finished_at`,
      ),
      records: db.prepare<[string], RunRecordDbRow>(
        'SELECT record_key, object, status, error, started_at, finished_at FROM run_records WHERE run_id = ? ORDER BY rowid',
      ),
      hasRecord: db.prepare<[string, string], { x: number }>('SELECT 1 AS x FROM run_records WHERE run_id = ? AND record_key = ?'),
      steps: db.prepare<[string], StepDbRow>('SELECT * FROM run_steps WHERE run_id = ? ORDER BY rowid'),
      inDoubt: db.prepare<[string, string, string], StepDbRow & { run_id: string; run_status: RunStatus; runner: string | null }>(
        `SELECT s.*, r.status AS run_status, r.runner AS runner FROM run_steps s JOIN runs r ON r.id = s.run_id
         WHERE s.record_key = ? AND s.step_id = ? AND s.status IN ('running', 'unknown') AND r.workflow = ?
         ORDER BY s.rowid`,
      ),
    };
  }

  private mustHaveRun(runId: string): void {
    if (!this.s.getRun.get(runId)) throw new SkeinError('run-not-found', `no run with id "${runId}"`);
  }

  createRun(run: NewRun): string {
    const id = newRunId();
    this.s.insertRun.run(id, run.workflow, run.trigger, writeJson(run.trigger_data), this.now(), run.runner ?? null);
    return id;
  }

  startRunRecord(runId: string, object: string, key: string, startedAt?: string): void {
    // run_records.run_id references runs (foreign keys are on): no lookup first.
    try {
      this.s.startRecord.run(runId, key, object, startedAt ?? this.now());
    } catch (err) {
      if (!isForeignKeyError(err)) throw err;
      this.mustHaveRun(runId);
      throw err;
    }
  }

  /** startRunRecord and finishRunRecord at once (the same rows, one statement). */
  writeRunRecord(runId: string, object: string, key: string, startedAt: string | undefined, status: RunRecordStatus, error?: string | null): void {
    const now = this.now();
    try {
      this.s.writeRecord.run(runId, key, object, status, writeText(error), startedAt ?? now, now);
    } catch (err) {
      if (!isForeignKeyError(err)) throw err;
      this.mustHaveRun(runId);
      throw err;
    }
  }

  finishRunRecord(runId: string, key: string, status: RunRecordStatus, error?: string | null): void {
    const info = this.s.finishRecord.run(status, writeText(error), this.now(), runId, key);
    if (info.changes === 0) throw new SkeinError('run-record-not-found', `run "${runId}" has no record "${key}"; call startRunRecord first`);
  }

  /** Steps of a workflow for one record left `running` (a crash) or `unknown`, oldest first. */
  stepsInDoubt(workflow: string, recordKey: string, stepId: string): StepInDoubt[] {
    return this.s.inDoubt.all(recordKey, stepId, workflow).map((r) => ({ ...toStep(r), run_id: r.run_id, run_status: r.run_status, runner: r.runner }));
  }

  /**
   * One upsert per set of given columns: every column is inserted (null for those not given),
   * but on update only the given ones are set, so fields left undefined keep their stored value.
   * It inserts only when the run has the record, so no lookups go before it.
   */
  private readonly upserts = new Map<number, Database.Statement>();
  private upsertFor(mask: number, given: StepColumn[]): Database.Statement {
    let st = this.upserts.get(mask);
    if (!st) {
      const sets = given.map((c) => `${c} = excluded.${c}`);
      st = this.db.prepare(
        `INSERT INTO run_steps (run_id, record_key, step_id, ${STEP_COLUMNS.join(', ')})
         SELECT @run_id, @record_key, @step_id, ${STEP_COLUMNS.map((c) => '@' + c).join(', ')}
         WHERE EXISTS (SELECT 1 FROM run_records WHERE run_id = @run_id AND record_key = @record_key)
         ON CONFLICT (run_id, record_key, step_id) DO ${sets.length ? `UPDATE SET ${sets.join(', ')}` : 'NOTHING'}`,
      );
      this.upserts.set(mask, st);
    }
    return st;
  }

  /** Fields of `step` left undefined keep their stored value on update. */
  recordStep(runId: string, recordKey: string, step: StepRow): void {
    const params: Record<string, unknown> = { run_id: runId, record_key: recordKey, step_id: step.step_id };
    const given: StepColumn[] = [];
    let mask = 0;
    for (let i = 0; i < STEP_COLUMNS.length; i++) {
      const c = STEP_COLUMNS[i]!;
      // attempts is NOT NULL: a null keeps the stored count, as undefined does.
      if (step[c] === undefined || (c === 'attempts' && step[c] === null)) {
        params[c] = c === 'attempts' ? 0 : null;
      } else {
        params[c] = ENCODE[c](step);
        given.push(c);
        mask |= 1 << i;
      }
    }
    if (this.upsertFor(mask, given).run(params).changes === 0 && !this.s.hasRecord.get(runId, recordKey)) {
      this.mustHaveRun(runId);
      throw new SkeinError('run-record-not-found', `run "${runId}" has no record "${recordKey}"; call startRunRecord first`);
    }
  }

  finishRun(runId: string, status: RunStatus, summary?: unknown): void {
    const info = this.s.finishRun.run(status, writeJson(summary), this.now(), runId);
    if (info.changes === 0) throw new SkeinError('run-not-found', `no run with id "${runId}"`);
  }

  listRuns(opts: ListRunsOptions = {}): RunRow[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (opts.workflow !== undefined) {
      where.push('workflow = ?');
      params.push(opts.workflow);
    }
    if (opts.status !== undefined) {
      where.push('status = ?');
      params.push(opts.status);
    }
    const sql = `SELECT * FROM runs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params, opts.limit ?? 50) as RunDbRow[]).map(toRun);
  }

  getRun(runId: string): RunDetail | null {
    const run = this.s.getRun.get(runId);
    if (!run) return null;
    const steps = new Map<string, StepRow[]>();
    for (const s of this.s.steps.all(runId)) {
      const list = steps.get(s.record_key) ?? [];
      list.push(toStep(s));
      steps.set(s.record_key, list);
    }
    const records = this.s.records.all(runId).map((r): RunRecordRow & { steps: StepRow[] } => ({
      object: r.object,
      key: r.record_key,
      status: r.status,
      error: r.error,
      started_at: r.started_at,
      finished_at: r.finished_at,
      steps: steps.get(r.record_key) ?? [],
    }));
    return { ...toRun(run), records };
  }
}
